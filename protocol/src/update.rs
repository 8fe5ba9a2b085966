//! Decoding of Yjs V1 updates that refuses a client id over 53 bits wherever one appears
//! (struct groups, origins, parents, the delete set). yrs asserts on such ids in debug
//! builds and silently truncates them in release, so without this check a debug server
//! refuses an update that a release server applies under another client's id. Only
//! [`crate::decode_update`] calls this.

use std::sync::Arc;

use yrs::encoding::read::{Cursor, Error, Read};
use yrs::updates::decoder::{Decode, Decoder};
use yrs::{Any, ClientID, ID, Update};

use crate::{MAX_CLIENT_ID, ProtocolError};

pub(crate) fn decode_v1(buf: &[u8]) -> Result<Update, ProtocolError> {
    let mut decoder = Checked { cursor: Cursor::new(buf), too_large: None };
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
}

impl Checked<'_> {
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
}

impl Decoder for Checked<'_> {
    /// Called before each client of the delete set, whose id yrs reads as a plain varint:
    /// look at it first.
    fn reset_ds_cur_val(&mut self) {
        let mut ahead = Cursor::new(&self.cursor.buf[self.cursor.next..]);
        if let Ok(raw) = ahead.read_var::<u64>()
            && raw > MAX_CLIENT_ID
        {
            self.too_large = Some(raw);
        }
    }

    fn read_ds_clock(&mut self) -> Result<u32, Error> {
        self.read_var()
    }

    fn read_ds_len(&mut self) -> Result<u32, Error> {
        self.read_var()
    }

    fn read_left_id(&mut self) -> Result<ID, Error> {
        self.id()
    }

    fn read_right_id(&mut self) -> Result<ID, Error> {
        self.id()
    }

    fn read_client(&mut self) -> Result<ClientID, Error> {
        self.client()
    }

    fn read_info(&mut self) -> Result<u8, Error> {
        self.read_u8()
    }

    fn read_parent_info(&mut self) -> Result<bool, Error> {
        let info: u32 = self.read_var()?;
        Ok(info == 1)
    }

    fn read_type_ref(&mut self) -> Result<u8, Error> {
        self.read_u8()
    }

    fn read_len(&mut self) -> Result<u32, Error> {
        self.read_var()
    }

    fn read_any(&mut self) -> Result<Any, Error> {
        Any::decode(self)
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
