//! [`Blob`]: bytes with a MIME type, sent through a pipe.

/// A JavaScript `Blob`: bytes and their MIME type (`blob.type`, possibly empty).
///
/// ```
/// use capnweb::{Blob, Value};
/// let blob = Blob::new("text/plain", b"hello".to_vec());
/// assert_eq!(blob.data.len(), 5);
/// let v = Value::from(blob);
/// assert_eq!(v.kind_name(), "Blob");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob {
    /// The MIME type, e.g. `text/plain`; empty when unknown.
    pub content_type: String,
    /// The content.
    pub data: Vec<u8>,
}

impl Blob {
    /// A blob of `data` with MIME type `content_type`.
    pub fn new(content_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Blob {
        Blob {
            content_type: content_type.into(),
            data: data.into(),
        }
    }
}
