//! The messages waiting to be sent: all in one buffer, so that queueing a message allocates
//! nothing once the buffer has reached its working size.

/// Queued messages, in order.
#[derive(Default)]
pub(crate) struct Outbox {
    text: String,
    /// Where each message ends in `text`.
    ends: Vec<usize>,
    /// A buffer for a message written in pieces while the state is borrowed elsewhere (see
    /// [`Outbox::scratch`]).
    scratch: String,
}

impl Outbox {
    /// Queues `message`.
    pub(crate) fn push(&mut self, message: &str) {
        self.text.push_str(message);
        self.ends.push(self.text.len());
    }

    /// Queues the message `write` writes at the end of the buffer.
    pub(crate) fn write(&mut self, write: impl FnOnce(&mut String)) {
        write(&mut self.text);
        self.ends.push(self.text.len());
    }

    /// An empty buffer to write a message into while the session's state is needed for it
    /// (its exporter may queue messages that must go first); give it back with
    /// [`push_scratch`](Self::push_scratch), which queues it.
    pub(crate) fn scratch(&mut self) -> String {
        std::mem::take(&mut self.scratch)
    }

    /// Queues the message written into `scratch`, and keeps the buffer for the next one.
    pub(crate) fn push_scratch(&mut self, mut scratch: String) {
        self.push(&scratch);
        scratch.clear();
        if scratch.capacity() <= 1024 {
            self.scratch = scratch;
        }
    }

    /// Bytes queued.
    pub(crate) fn bytes(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The messages, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let message = &self.text[start..end];
            start = end;
            message
        })
    }

    /// Empties it, keeping its buffer for the next burst unless that buffer is large and this
    /// burst used little of it (the load dropped): a session that goes idle should not keep
    /// the memory of its busiest moment, and one under steady load should not regrow it each
    /// burst.
    pub(crate) fn clear(&mut self) {
        let capacity = self.text.capacity();
        if capacity > 4 * 1024 && self.text.len() < capacity / 4 {
            self.text = String::new();
        } else {
            self.text.clear();
        }
        self.ends.clear();
        super::recycle(&mut self.ends);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_whole_and_in_order() {
        let mut outbox = Outbox::default();
        assert!(outbox.is_empty());
        outbox.push("[\"pull\",1]");
        outbox.write(|t| t.push_str("[\"release\",1,1]"));
        let mut scratch = outbox.scratch();
        scratch.push_str("[\"pipe\"]");
        outbox.push_scratch(scratch);
        outbox.push("");
        let all: Vec<&str> = outbox.iter().collect();
        assert_eq!(all, ["[\"pull\",1]", "[\"release\",1,1]", "[\"pipe\"]", ""]);
        outbox.clear();
        assert!(outbox.is_empty());
        assert_eq!(outbox.iter().count(), 0);
    }
}
