//! RFC 6455 frames, as pure functions over bytes: a frame's header read and checked, a frame
//! written, a payload masked, a close frame's payload checked.

/// Opcodes (RFC 6455, 5.2).
pub(super) const CONTINUATION: u8 = 0x0;
pub(super) const TEXT: u8 = 0x1;
pub(super) const BINARY: u8 = 0x2;
pub(super) const CLOSE: u8 = 0x8;
pub(super) const PING: u8 = 0x9;
pub(super) const PONG: u8 = 0xA;

/// The longest payload of a control frame.
pub(super) const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub(super) const MAX_HEADER: usize = 14;

/// Close codes this codec sends.
pub(super) const NORMAL: u16 = 1000;
pub(super) const PROTOCOL_ERROR: u16 = 1002;
pub(super) const INVALID_PAYLOAD: u16 = 1007;
pub(super) const TOO_BIG: u16 = 1009;

/// A frame's header, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    /// The last frame of its message.
    pub fin: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    /// The payload's length, as declared.
    pub len: u64,
    /// The header's own length, in bytes.
    pub header_len: usize,
}

impl Header {
    pub(super) fn is_control(&self) -> bool {
        self.opcode >= CLOSE
    }
}

/// Why the peer's frames are refused: the close code to send, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

/// A break of the framing rules, answered with 1002 (protocol error).
pub(super) const fn protocol(reason: &'static str) -> Violation {
    Violation {
        code: PROTOCOL_ERROR,
        reason,
    }
}

/// Reads the header at the start of `buf`: `None` until it is whole. `masked` is whether the
/// peer must mask (a client's frames to a server) or must not (a server's to a client).
pub(super) fn parse_header(buf: &[u8], masked: bool) -> Result<Option<Header>, Violation> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(protocol("reserved bits set with no extension agreed"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(protocol("unknown opcode"));
    }
    let has_mask = b1 & 0x80 != 0;
    if has_mask != masked {
        return Err(protocol(match masked {
            true => "a client's frame must be masked",
            false => "a server's frame must not be masked",
        }));
    }
    let short = b1 & 0x7F;
    let control = opcode >= CLOSE;
    if control && (!fin || usize::from(short) > MAX_CONTROL_PAYLOAD) {
        return Err(protocol(
            "a control frame must be whole and at most 125 bytes",
        ));
    }
    let (len, at) = match short {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(protocol("a frame length's top bit must be 0"));
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let (mask, header_len) = match has_mask {
        true => match buf.get(at..at + 4) {
            Some(k) => (Some([k[0], k[1], k[2], k[3]]), at + 4),
            None => return Ok(None),
        },
        false => (None, at),
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        len,
        header_len,
    }))
}

/// Appends a whole frame's header for a payload of `len` bytes.
pub(super) fn write_header(out: &mut Vec<u8>, opcode: u8, len: usize, mask: Option<[u8; 4]>) {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends a whole frame carrying `payload`, masked with `mask` if given.
pub(super) fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    write_header(out, opcode, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}

/// Masks (or unmasks) `data` with `key`, from the payload's first byte.
pub(super) fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The rest starts at a multiple of 8, so the key lines up from its first byte.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// A close frame's payload, checked: its code (none when empty), or why it is refused.
pub(super) fn close_code(payload: &[u8]) -> Result<Option<u16>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(protocol("a close frame's code must be 2 bytes")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            // Codes a peer may send (RFC 6455 7.4, and the IANA registry): not 1004-1006 or
            // 1015, which are reserved or only ever reported locally.
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(protocol("a close frame's code is not one a peer may send"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(Violation {
                    code: INVALID_PAYLOAD,
                    reason: "a close frame's reason is not UTF-8",
                });
            }
            Ok(Some(code))
        }
    }
}

/// A close frame's payload: `code`, then `reason` cut to fit a control frame.
pub(super) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, opcode, payload, mask);
        out
    }

    #[test]
    fn frames_read_back_at_every_length_form() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 100_000] {
            for mask in [None, Some([1, 2, 3, 250])] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let bytes = frame(TEXT, &payload, mask);
                let h = parse_header(&bytes, mask.is_some()).unwrap().unwrap();
                assert_eq!(
                    (h.fin, h.opcode, h.mask, h.len),
                    (true, TEXT, mask, len as u64)
                );
                assert_eq!(bytes.len(), h.header_len + len);
                let mut body = bytes[h.header_len..].to_vec();
                if let Some(key) = mask {
                    assert!(len == 0 || body != payload, "masked on the wire");
                    apply_mask(&mut body, key);
                }
                assert_eq!(body, payload);
                // Every cut of the header is incomplete, never an error.
                for cut in 0..h.header_len {
                    assert_eq!(parse_header(&bytes[..cut], mask.is_some()), Ok(None));
                }
            }
        }
    }

    #[test]
    fn masking_matches_the_bytewise_definition() {
        let key = [0xA1, 0x07, 0x3C, 0xFE];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast, key);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn headers_breaking_the_rfc_are_refused_with_1002() {
        let refused = |bytes: &[u8], masked: bool| parse_header(bytes, masked).unwrap_err().code;
        // Reserved bits, each of them.
        for rsv in [0x40, 0x20, 0x10] {
            assert_eq!(
                refused(&[0x81 | rsv, 0x80, 0, 0, 0, 0], true),
                PROTOCOL_ERROR
            );
        }
        // Reserved opcodes.
        for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                refused(&[0x80 | op, 0x80, 0, 0, 0, 0], true),
                PROTOCOL_ERROR
            );
        }
        // A client's frame unmasked; a server's masked.
        assert_eq!(refused(&[0x81, 0x00], true), PROTOCOL_ERROR);
        assert_eq!(refused(&[0x81, 0x80, 0, 0, 0, 0], false), PROTOCOL_ERROR);
        // Control frames fragmented or too long.
        assert_eq!(refused(&[0x09, 0x80, 0, 0, 0, 0], true), PROTOCOL_ERROR);
        assert_eq!(refused(&[0x89, 0x80 | 126, 0, 126], true), PROTOCOL_ERROR);
        // A 64-bit length with its top bit set.
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(refused(&huge, false), PROTOCOL_ERROR);
        // A fragment of a message is fine.
        assert!(parse_header(&[0x01, 0x80, 0, 0, 0, 0], true)
            .unwrap()
            .is_some());
    }

    #[test]
    fn close_payloads_are_checked() {
        assert_eq!(close_code(&[]), Ok(None));
        assert_eq!(close_code(&[3]).unwrap_err().code, PROTOCOL_ERROR);
        assert_eq!(close_code(&close_payload(1000, "bye")), Ok(Some(1000)));
        assert_eq!(close_code(&close_payload(4999, "")), Ok(Some(4999)));
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert_eq!(
                close_code(&bad.to_be_bytes()).unwrap_err().code,
                PROTOCOL_ERROR
            );
        }
        assert_eq!(
            close_code(&[0x03, 0xE8, 0xFF]).unwrap_err().code,
            INVALID_PAYLOAD
        );
        // A long reason is cut on a character boundary, to fit a control frame.
        let payload = close_payload(3000, &"é".repeat(100));
        assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
        assert_eq!(close_code(&payload), Ok(Some(3000)));
    }
}
