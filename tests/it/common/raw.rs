//! A WebSocket client that shows the frames themselves (FIN bit, opcode, length), which
//! every WebSocket library hides by reassembling fragmented messages: for tests of how
//! the server puts a message on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const OP_CONTINUE: u8 = 0;
pub const OP_BINARY: u8 = 2;

/// One frame as it came off the wire.
#[derive(Debug)]
pub struct RawFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A data message and the frames it came in.
pub struct RawMessage {
    pub data: Vec<u8>,
    /// `(fin, opcode, payload length)` of each of its frames.
    pub frames: Vec<(bool, u8, usize)>,
}

pub struct RawSocket {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawSocket {
    /// Opens `path` (with its query) with a handshake written by hand; panics unless the
    /// server switches protocols.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut socket = RawSocket { stream, buf: Vec::new() };
        let end = loop {
            if let Some(i) = socket.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            socket.fill(Duration::from_secs(10)).await;
        };
        let head = String::from_utf8_lossy(&socket.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        socket.buf.drain(..end);
        socket
    }

    /// Sends one binary message in one frame (masked, as a client must; the mask key is
    /// zero, so the payload goes as it is).
    pub async fn send(&mut self, payload: &[u8]) {
        let mut frame = vec![0x80 | OP_BINARY];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next frame, or a panic after `within`.
    pub async fn next_frame(&mut self, within: Duration) -> RawFrame {
        self.want(2, within).await;
        let (fin, opcode, masked) = (self.buf[0] & 0x80 != 0, self.buf[0] & 0x0f, self.buf[1] & 0x80 != 0);
        assert!(!masked, "a server's frames are never masked");
        let (len, header) = match self.buf[1] & 0x7f {
            126 => {
                self.want(4, within).await;
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.want(10, within).await;
                (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
            }
            n => (n as usize, 2),
        };
        self.want(header + len, within).await;
        let payload = self.buf[header..header + len].to_vec();
        self.buf.drain(..header + len);
        RawFrame { fin, opcode, payload }
    }

    /// The next data message, reassembled from its frames (control frames skipped).
    pub async fn next_message(&mut self, within: Duration) -> RawMessage {
        let mut message = RawMessage { data: Vec::new(), frames: Vec::new() };
        loop {
            let frame = self.next_frame(within).await;
            if frame.opcode >= 8 {
                continue;
            }
            message.frames.push((frame.fin, frame.opcode, frame.payload.len()));
            message.data.extend_from_slice(&frame.payload);
            if frame.fin {
                return message;
            }
        }
    }

    async fn want(&mut self, n: usize, within: Duration) {
        while self.buf.len() < n {
            self.fill(within).await;
        }
    }

    async fn fill(&mut self, within: Duration) {
        let mut chunk = vec![0; 64 * 1024];
        let read = tokio::time::timeout(within, self.stream.read(&mut chunk)).await.expect("nothing arrived in time");
        let n = read.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}
