//! Decoding of Yjs V1 updates that refuses a client id over 53 bits wherever one appears
//! (struct groups, origins, parents, the delete set). yrs asserts on such ids in debug
//! builds and silently truncates them in release, so without this check a debug server
//! refuses an update that a release server applies under another client's id. It also
//! refuses JSON content (the pre-v13 kind that Yjs no longer writes, superseded by Any):
//! yrs 0.28 reads one string more than the count it writes, so such an item re-encodes as
//! bytes it cannot read back; pending, it made the next `encode_state_as_update` (the
//! answer to any sync step 1) panic, integrated, it made the logged delta unreadable, so the
//! document could not be loaded again. Content of length 0 (deleted or Any with no
//! element, or an empty string), which no Yjs client writes either, is refused too. And it refuses clocks past
//! `i32::MAX` (2^31 characters from one client: no real editor gets there): yrs adds them
//! up unchecked and computes gaps between them as `i32` (a panic in debug builds, which in
//! the room actor killed the room, and a wrap in release). And it refuses counts larger than the bytes left to hold
//! what they count where yrs reserves memory for them up front (struct groups, structs
//! per group, entries of an Any map or array): a few bytes made yrs set up a hash table for
//! hundreds of millions of clients. Only [`crate::decode_update`] calls this.

use std::sync::Arc;

use yrs::encoding::read::{Cursor, Error, MalformedKind, Read};
use yrs::encoding::varint::VarInt;
use yrs::updates::decoder::{Decode, Decoder};
use yrs::{Any, ClientID, ID, Update};

use crate::{MAX_CLIENT_ID, ProtocolError};

/// yrs' V1 block info for a Skip, whose length yrs reads as a plain varint.
const SKIP: u8 = 10;
/// An item's content kind for JSON, in the low four bits of its info (all yrs reads).
const CONTENT_JSON: u8 = 2;
/// An item's content kind for a string.
const CONTENT_STRING: u8 = 4;
/// Item info flags: which of the parent's fields follow.
const HAS_ORIGINS: u8 = 0b1100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

pub(crate) fn decode_v1(buf: &[u8]) -> Result<Update, ProtocolError> {
    // Content of any other kind counts at most one clock per byte of the update.
    let clock_limit = (i32::MAX as u64).saturating_sub(buf.len() as u64);
    // The number of struct groups, for which yrs reserves a hash table.
    if Cursor::new(buf).read_var::<u64>().is_ok_and(|groups| groups > buf.len() as u64) {
        return Err(ProtocolError::InvalidUpdate);
    }
    let mut decoder = Checked {
        cursor: Cursor::new(buf),
        too_large: None,
        clock: 0,
        clock_limit,
        last_var: 0,
        in_any: false,
        strings_before_content: None,
    };
    let decoded = Update::decode(&mut decoder);
    match (decoder.too_large, decoded) {
        (Some(raw), _) => Err(ProtocolError::ClientIdTooLarge(raw)),
        (None, Ok(update)) => Ok(update),
        (None, Err(_)) => Err(ProtocolError::InvalidUpdate),
    }
}

/// yrs' `DecoderV1`, with every client id checked before a `ClientID` is made of it. Once
/// one is too large every further read fails, so the decode stops there.
struct Checked<'a> {
    cursor: Cursor<'a>,
    too_large: Option<u64>,
    /// The clock a struct group reaches so far: its first clock plus every length read.
    clock: u64,
    clock_limit: u64,
    /// The last varint read, as read before a group's client: the group's struct count.
    last_var: u64,
    /// Inside an Any value, where a varint after byte 117 or 118 is an entry count.
    in_any: bool,
    /// For a string item: how many strings (parent name, map key) come before its content.
    strings_before_content: Option<u8>,
}

impl Checked<'_> {
    /// The varint at the cursor, without reading it.
    fn peek_var(&self) -> Option<u64> {
        Cursor::new(&self.cursor.buf[self.cursor.next..]).read_var::<u64>().ok()
    }

    fn remaining(&self) -> u64 {
        (self.cursor.buf.len() - self.cursor.next) as u64
    }

    fn advance(&mut self, by: u64) -> Result<(), Error> {
        self.clock = self.clock.saturating_add(by);
        if self.clock > self.clock_limit {
            return Err(Error::UnexpectedValue);
        }
        Ok(())
    }

    fn client(&mut self) -> Result<ClientID, Error> {
        let raw: u64 = self.read_var()?;
        if raw > MAX_CLIENT_ID {
            self.too_large = Some(raw);
            return Err(Error::UnexpectedValue);
        }
        Ok(ClientID::new(raw))
    }

    fn id(&mut self) -> Result<ID, Error> {
        let client = self.client()?;
        Ok(ID::new(client, self.read_var()?))
    }
}

impl Read for Checked<'_> {
    fn read_exact(&mut self, len: usize) -> Result<&[u8], Error> {
        if self.too_large.is_some() {
            return Err(Error::UnexpectedValue);
        }
        self.cursor.read_exact(len)
    }

    fn read_u8(&mut self) -> Result<u8, Error> {
        if self.too_large.is_some() {
            return Err(Error::UnexpectedValue);
        }
        self.cursor.read_u8()
    }

    fn read_string(&mut self) -> Result<&str, Error> {
        let content = match self.strings_before_content {
            Some(0) => {
                self.strings_before_content = None;
                true
            }
            Some(n) => {
                self.strings_before_content = Some(n - 1);
                false
            }
            None => false,
        };
        let buf = self.read_buf()?;
        if content && buf.is_empty() {
            return Err(Error::Malformed(MalformedKind::EmptyBlock));
        }
        std::str::from_utf8(buf).map_err(|_| Error::Malformed(MalformedKind::Utf8))
    }

    fn read_var<T: VarInt>(&mut self) -> Result<T, Error> {
        if self.too_large.is_some() {
            return Err(Error::UnexpectedValue);
        }
        let start = self.cursor.next;
        let value = T::read(&mut self.cursor)?;
        self.last_var = Cursor::new(&self.cursor.buf[start..self.cursor.next]).read_var::<u64>().unwrap_or(u64::MAX);
        // After an Any array (117) or map (118) tag comes the entry count yrs reserves for.
        let after_collection_tag = self.in_any && start > 0 && matches!(self.cursor.buf[start - 1], 117 | 118);
        if after_collection_tag && self.last_var > self.remaining() {
            return Err(Error::UnexpectedValue);
        }
        Ok(value)
    }
}

impl Decoder for Checked<'_> {
    /// Called before each client of the delete set, whose id yrs reads as a plain varint:
    /// look at it first.
    fn reset_ds_cur_val(&mut self) {
        if let Some(raw) = self.peek_var()
            && raw > MAX_CLIENT_ID
        {
            self.too_large = Some(raw);
        }
    }

    fn read_ds_clock(&mut self) -> Result<u32, Error> {
        let clock = self.read_var()?;
        self.clock = u64::from(clock);
        Ok(clock)
    }

    fn read_ds_len(&mut self) -> Result<u32, Error> {
        let len = self.read_var()?;
        self.advance(u64::from(len))?;
        Ok(len)
    }

    fn read_left_id(&mut self) -> Result<ID, Error> {
        self.id()
    }

    fn read_right_id(&mut self) -> Result<ID, Error> {
        self.id()
    }

    /// A struct group's client; its first clock follows.
    fn read_client(&mut self) -> Result<ClientID, Error> {
        // Each struct takes at least one byte.
        if self.last_var > self.remaining() {
            return Err(Error::UnexpectedValue);
        }
        let client = self.client()?;
        self.clock = 0;
        self.advance(self.peek_var().unwrap_or(0))?;
        Ok(client)
    }

    fn read_info(&mut self) -> Result<u8, Error> {
        let info = self.read_u8()?;
        if info & 0b1111 == CONTENT_JSON {
            return Err(Error::UnexpectedValue);
        }
        self.strings_before_content = (info != SKIP && info & 0b1111 == CONTENT_STRING).then(|| {
            // Without origins the parent follows (a name counted in `read_parent_info`) and
            // then, with the flag, the key in a map.
            u8::from(info & HAS_ORIGINS == 0 && info & HAS_PARENT_SUB != 0)
        });
        if info == SKIP {
            self.advance(self.peek_var().unwrap_or(0))?;
        }
        Ok(info)
    }

    fn read_parent_info(&mut self) -> Result<bool, Error> {
        let info: u32 = self.read_var()?;
        let named = info == 1;
        if named && let Some(n) = self.strings_before_content.as_mut() {
            *n += 1;
        }
        Ok(named)
    }

    fn read_type_ref(&mut self) -> Result<u8, Error> {
        self.read_u8()
    }

    /// The length of deleted content or the element count of JSON or Any content.
    fn read_len(&mut self) -> Result<u32, Error> {
        match self.read_var()? {
            0 => Err(Error::Malformed(MalformedKind::EmptyBlock)),
            len => self.advance(u64::from(len)).map(|()| len),
        }
    }

    fn read_any(&mut self) -> Result<Any, Error> {
        self.in_any = true;
        let any = Any::decode(self);
        self.in_any = false;
        any
    }

    fn read_json(&mut self) -> Result<Any, Error> {
        Any::from_json(self.read_string()?)
    }

    fn read_key(&mut self) -> Result<Arc<str>, Error> {
        Ok(self.read_string()?.into())
    }

    fn read_to_end(&mut self) -> Result<&[u8], Error> {
        Ok(&self.cursor.buf[self.cursor.next..])
    }
}
