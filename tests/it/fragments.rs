//! Large messages go out as WebSocket fragments of bounded size (a first binary frame,
//! continuation frames, the last one final), on both protocols: read here frame by frame
//! with a client that shows the frames, and reassembled by tokio-tungstenite, which syncs
//! the whole document. (The JS tests sync a large document through y-websocket's and
//! Hocuspocus' own providers.)

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::raw::{OP_BINARY, OP_CONTINUE, RawMessage, RawSocket};
use futures_util::{SinkExt, StreamExt};
use tandem_protocol::{self as proto, ClientMessage, hocuspocus as hp};
use tokio_tungstenite::tungstenite::Message;
use yrs::{GetString, StateVector, Transact};

const T: Duration = Duration::from_secs(20);
/// Larger than one piece and than the large-message threshold (256 KiB).
const DOC_BYTES: usize = 300 * 1024;
/// The most one frame may carry: the pieces are 64 KiB; this leaves room to tune them.
const MOST_PER_FRAME: usize = 128 * 1024;

/// A room holding a `DOC_BYTES` document.
async fn large_room(server: &TestServer, room: &str) -> String {
    let text = "f".repeat(DOC_BYTES);
    let mut writer = server.client(room).await;
    writer.append_acked(&text).await;
    text
}

/// The text of a sync step 2 message, and panics unless that is what `message` is.
fn text_of_sync_step2(message: &[u8]) -> String {
    let Ok(ClientMessage::SyncStep2(update)) = proto::decode(message) else { panic!("not a sync step 2") };
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    txn.apply_update(update).unwrap();
    text.get_string(&txn)
}

/// Panics unless `message` came as a binary frame, continuation frames and a final one,
/// none larger than [`MOST_PER_FRAME`].
fn assert_fragmented(message: &RawMessage) {
    let frames = &message.frames;
    assert!(frames.len() > 2, "{} bytes came in {frames:?}", message.data.len());
    assert_eq!((frames[0].0, frames[0].1), (false, OP_BINARY), "{frames:?}");
    for (i, &(fin, opcode, len)) in frames.iter().enumerate().skip(1) {
        assert_eq!((fin, opcode), (i == frames.len() - 1, OP_CONTINUE), "frame {i} of {frames:?}");
        assert!(len <= MOST_PER_FRAME, "frame {i}: {len} bytes");
    }
    assert!(frames[0].2 <= MOST_PER_FRAME, "{frames:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_document_reaches_a_y_websocket_joiner_in_fragments() {
    let server = TestServer::start().await;
    let text = large_room(&server, "frag").await;

    let mut raw = RawSocket::connect(server.addr, &format!("/ws/frag?token={}", server.token(&["*=rw"]))).await;
    raw.send(&proto::encode_sync_step1(&StateVector::default())).await;
    let step2 = loop {
        let message = raw.next_message(T).await;
        if message.data.starts_with(&[0, 1]) {
            break message;
        }
        assert!(message.data.len() < 1024, "only the sync step 2 is large");
    };
    assert_fragmented(&step2);
    assert!(text_of_sync_step2(&step2.data) == text, "the reassembled document differs");

    // tokio-tungstenite reassembles them.
    let mut joiner = server.client("frag").await;
    joiner.wait_text(T, |t| t == text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_document_reaches_a_hocuspocus_joiner_in_fragments() {
    let server = TestServer::start().await;
    let text = large_room(&server, "hfrag").await;
    let token = server.token(&["*=rw"]);
    let step1 = hp::for_document("hfrag", &proto::encode_sync_step1(&StateVector::default()));

    let mut raw = RawSocket::connect(server.addr, "/hocuspocus").await;
    raw.send(&hp::encode_auth_token("hfrag", &token)).await;
    raw.send(&step1).await;
    let (step2, message) = loop {
        let message = raw.next_message(T).await;
        if let Ok(hp::Frame::Doc { kind: hp::MSG_SYNC, message: inner, .. }) = hp::split(&message.data)
            && inner.starts_with(&[0, 1])
        {
            let inner = inner.to_vec();
            break (message, inner);
        }
        assert!(message.data.len() < 1024, "only the sync step 2 is large");
    };
    assert_fragmented(&step2);
    assert!(text_of_sync_step2(&message) == text, "the reassembled document differs");

    // tokio-tungstenite reassembles them.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/hocuspocus", server.addr)).await.unwrap();
    ws.send(Message::Binary(hp::encode_auth_token("hfrag", &token).into())).await.unwrap();
    ws.send(Message::Binary(step1.into())).await.unwrap();
    let got = tokio::time::timeout(T, async {
        loop {
            let Some(Ok(Message::Binary(frame))) = ws.next().await else { panic!("closed before the sync step 2") };
            if let Ok(hp::Frame::Doc { kind: hp::MSG_SYNC, message, .. }) = hp::split(&frame)
                && message.starts_with(&[0, 1])
            {
                return text_of_sync_step2(message);
            }
        }
    })
    .await
    .expect("sync step 2 in time");
    assert!(got == text, "the reassembled document differs");
}
