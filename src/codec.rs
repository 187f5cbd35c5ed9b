//! Frames of the peer protocol on a byte stream. Bytes only: no sockets
//! are opened here and nothing is interpreted.
//!
//! A peer connection opens with a preamble, the four magic bytes
//! [`MAGIC`] and one byte of protocol [`VERSION`], which the server echoes
//! with its own version. The first magic byte is NUL, which no one types
//! into telnet, so a server can tell a peer from a person by one byte.
//! After the preamble each message is a frame: a 4-byte big-endian length,
//! then that many bytes of postcard. A frame longer than [`MAX_FRAME`] is
//! refused before any of it is read, so a bad peer cannot make a node
//! allocate without bound.

use std::fmt;
use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first bytes of every peer connection.
pub const MAGIC: [u8; 4] = [0, b'C', b'H', b'D'];

/// The peer protocol's version; the preamble carries it.
pub const VERSION: u8 = 2;

/// The largest frame accepted: values are at most 64 KiB and key handover
/// is chunked well below this.
pub const MAX_FRAME: usize = 8 * 1024 * 1024;

/// The preamble a peer connection opens with.
pub fn preamble() -> [u8; 5] {
    let mut bytes = [0u8; 5];
    bytes[..4].copy_from_slice(&MAGIC);
    bytes[4] = VERSION;
    bytes
}

/// What can go wrong reading or writing a frame.
#[derive(Debug)]
pub enum CodecError {
    /// The stream ended cleanly between frames.
    Closed,
    /// The stream ended inside a frame.
    Truncated,
    /// The length prefix announced more than the limit.
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes were not a valid message.
    Malformed(postcard::Error),
    /// The stream failed (including a read or write timeout).
    Io(io::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Closed => write!(f, "connection closed"),
            CodecError::Truncated => write!(f, "connection closed in the middle of a frame"),
            CodecError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the limit of {max}")
            }
            CodecError::Malformed(e) => write!(f, "malformed frame: {e}"),
            CodecError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Malformed(e) => Some(e),
            CodecError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// A message as one frame: length prefix and postcard bytes.
///
/// # Errors
/// [`CodecError::TooLarge`] when the message encodes to more than
/// [`MAX_FRAME`] bytes.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    let body = postcard::to_stdvec(message).map_err(CodecError::Malformed)?;
    if body.len() > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len: body.len(),
            max: MAX_FRAME,
        });
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Writes `message` as one frame.
///
/// # Errors
/// As [`encode`], or the stream's error.
pub fn write_frame<W: Write, T: Serialize>(writer: &mut W, message: &T) -> Result<(), CodecError> {
    let frame = encode(message)?;
    writer.write_all(&frame).map_err(CodecError::Io)?;
    writer.flush().map_err(CodecError::Io)
}

/// Reads one frame and decodes it.
///
/// # Errors
/// [`CodecError::Closed`] at a clean end of stream, [`CodecError::Truncated`]
/// inside a frame, [`CodecError::TooLarge`] for a length over [`MAX_FRAME`]
/// (nothing past the prefix is read), [`CodecError::Malformed`] for bytes
/// that are not a `T`.
pub fn read_frame<R: Read, T: DeserializeOwned>(reader: &mut R) -> Result<T, CodecError> {
    let mut prefix = [0u8; 4];
    match read_exact_or_eof(reader, &mut prefix)? {
        0 => return Err(CodecError::Closed),
        4 => {}
        _ => return Err(CodecError::Truncated),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    let mut body = vec![0u8; len];
    if read_exact_or_eof(reader, &mut body)? != len {
        return Err(CodecError::Truncated);
    }
    decode(&body)
}

/// Decodes a frame's body (the bytes after the length prefix).
///
/// # Errors
/// [`CodecError::Malformed`] when the bytes are not a `T`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    postcard::from_bytes(body).map_err(CodecError::Malformed)
}

/// Fills `buf` unless the stream ends first; returns how many bytes came.
fn read_exact_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<usize, CodecError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CodecError::Io(e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdSpace;
    use crate::message::{Request, Response};
    use crate::store::{Entry, Version};

    fn sample() -> Request {
        Request::FindSuccessor {
            id: IdSpace::new(160).unwrap().hash(b"key"),
        }
    }

    #[test]
    fn a_frame_round_trips() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &sample()).unwrap();
        let entry = Entry {
            value: Some("v".into()),
            version: Version {
                stamp: 7,
                writer: 1,
            },
        };
        write_frame(&mut wire, &Response::Value(Some(entry.clone()))).unwrap();
        let mut reader = &wire[..];
        assert_eq!(read_frame::<_, Request>(&mut reader).unwrap(), sample());
        let response: Response = read_frame(&mut reader).unwrap();
        assert_eq!(response, Response::Value(Some(entry)));
        assert!(matches!(
            read_frame::<_, Request>(&mut reader),
            Err(CodecError::Closed)
        ));
    }

    #[test]
    fn a_truncated_frame_is_reported_as_such() {
        let wire = encode(&sample()).unwrap();
        for cut in 1..wire.len() {
            let mut reader = &wire[..cut];
            let result = read_frame::<_, Request>(&mut reader);
            assert!(matches!(result, Err(CodecError::Truncated)), "cut at {cut}");
        }
    }

    #[test]
    fn an_oversized_length_is_refused_before_reading_the_body() {
        let mut wire = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&[0u8; 16]);
        let mut reader = &wire[..];
        let result = read_frame::<_, Request>(&mut reader);
        assert!(matches!(result, Err(CodecError::TooLarge { .. })));
        // Only the prefix was consumed.
        assert_eq!(reader.len(), 16);
    }

    #[test]
    fn an_oversized_message_is_refused_when_encoding() {
        let huge = Request::Write {
            key: "k".into(),
            value: Some("x".repeat(MAX_FRAME + 1)),
        };
        assert!(matches!(encode(&huge), Err(CodecError::TooLarge { .. })));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut wire = 3u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff]);
        let mut reader = &wire[..];
        let result = read_frame::<_, Request>(&mut reader);
        assert!(matches!(result, Err(CodecError::Malformed(_))));
    }

    #[test]
    fn the_preamble_starts_with_a_byte_nobody_types() {
        assert_eq!(preamble()[0], 0);
        assert_eq!(&preamble()[1..4], b"CHD");
        assert_eq!(preamble()[4], VERSION);
    }
}
