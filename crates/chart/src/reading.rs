//! Reading rendered files while the templates still execute: each
//! template's output is handed over as it is done, split into documents
//! and its heads read (the costly half of Helm's manifest sort) on a
//! second thread, so that work hides behind the execution of the next
//! templates instead of following all of it. When the last template is
//! done, the executing thread helps read what is still queued.
//!
//! Only the reading moves; execution stays on one thread and in Helm's
//! order, and the sort that follows takes the files in path order, so
//! the result and the first error reported are what a serial run gives.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::manifests::ReadFile;

/// The receiving end, shared by the reading thread and, at the end, the
/// executing one.
struct Queue {
    pending: Mutex<Receiver<(String, String)>>,
    read: Mutex<Vec<ReadFile>>,
}

impl Queue {
    /// Reads queued files until the sender is gone and the queue empty.
    fn drain(&self) {
        loop {
            // The lock is held only while waiting for the next file.
            let next = self.pending.lock().expect("queue lock").recv();
            let Ok((path, content)) = next else { return };
            let file = ReadFile::read(path, content);
            self.read.lock().expect("read lock").push(file);
        }
    }
}

/// Where the executing thread hands each file's output.
pub(crate) struct Handoff(Sender<(String, String)>);

impl Handoff {
    /// Queues `content`, the output of the template at `path`.
    pub fn send(&self, path: String, content: String) {
        // The reader outlives every send (it stops once this is dropped).
        let _ = self.0.send((path, content));
    }
}

/// Runs `execute` with a [`Handoff`] for its outputs while a second
/// thread reads them; returns what `execute` returned and every file
/// handed over, read (in no particular order).
pub(crate) fn execute_while_reading<T>(execute: impl FnOnce(&Handoff) -> T) -> (T, Vec<ReadFile>) {
    let (sender, receiver) = mpsc::channel();
    let queue = Queue {
        pending: Mutex::new(receiver),
        read: Mutex::new(Vec::new()),
    };
    let result = std::thread::scope(|scope| {
        let reader = scope.spawn(|| queue.drain());
        let handoff = Handoff(sender);
        let result = execute(&handoff);
        drop(handoff);
        queue.drain();
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        result
    });
    let read = queue.read.into_inner().expect("read lock");
    (result, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_handed_over_is_read() {
        let (count, mut read) = execute_while_reading(|handoff| {
            for i in 0..50 {
                handoff.send(
                    format!("c/templates/{i:02}.yaml"),
                    format!("kind: K{i}\n---\nkind: L{i}\n"),
                );
            }
            50
        });
        assert_eq!(count, 50);
        read.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<String> = (0..50)
            .map(|i| format!("c/templates/{i:02}.yaml"))
            .collect();
        assert_eq!(
            read.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
            paths
        );
    }
}
