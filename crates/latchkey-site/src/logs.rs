//! Where log lines go: a buffer that a thread of its own writes out every few milliseconds.
//!
//! Every request logs a line. Handed to a writer thread one at a time (tracing-appender's
//! non-blocking writer), each line woke that thread, which wrote it and slept again: a futex
//! wake, two context switches and a `write(2)` a request, about 7% of the CPU of a profile
//! view on the 2-CPU bench machine (docs/benchmarks.md). Here a request appends its line to a
//! buffer under a lock; the first line of a batch wakes the thread, which lets more gather
//! for a few milliseconds and writes them in one call. Nothing is dropped: a request that
//! finds the buffer full writes it out itself.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread lets lines gather after the first: lines reach the sink about
/// this late.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// Bytes gathered before the request that adds a line writes them out itself, rather than
/// wait for the timer.
pub const BUFFER_BYTES: usize = 64 * 1024;

/// A [`MakeWriter`] whose lines are written to the sink in batches; see the module's text.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Writes what is left and stops the writer thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    // Lock order: `sink` before `pending`, so that whoever writes a batch out holds the sink
    // from the moment it takes the batch, and batches reach the sink in the order they
    // were taken.
    sink: Mutex<Box<dyn Write + Send>>,
    pending: Mutex<Pending>,
    wake: Condvar,
    limit: usize,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

impl BatchedWriter {
    /// A writer to `sink`, written out `interval` after the first line of each batch, or
    /// once `limit` bytes have gathered, by a thread named `thread_name`.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn new(
        sink: impl Write + Send + 'static,
        interval: Duration,
        limit: usize,
        thread_name: &str,
    ) -> io::Result<(Self, FlushGuard)> {
        let shared = Arc::new(Shared {
            sink: Mutex::new(Box::new(sink)),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            limit,
        });

        let writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || writer.run(interval))?;

        let guard = FlushGuard {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        Ok((Self { shared }, guard))
    }
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic elsewhere while holding the lock leaves whole lines behind: keep logging.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: asleep until a line comes, then `interval` for more to gather,
    /// then one write; the rest once asked to stop. An idle server's thread never wakes.
    fn run(&self, interval: Duration) {
        loop {
            let pending = self
                .wake
                .wait_while(self.pending(), |pending| {
                    pending.bytes.is_empty() && !pending.stopping
                })
                .unwrap_or_else(PoisonError::into_inner);
            let (pending, _) = self
                .wake
                .wait_timeout_while(pending, interval, |pending| !pending.stopping)
                .unwrap_or_else(PoisonError::into_inner);
            let stopping = pending.stopping;
            drop(pending);

            self.write_out();
            if stopping {
                return;
            }
        }
    }

    /// Writes everything gathered so far. Errors are dropped: there is nowhere left to
    /// report a failing log.
    fn write_out(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = std::mem::take(&mut self.pending().bytes);
        if batch.is_empty() {
            return;
        }
        let _ = sink.write_all(&batch);
        let _ = sink.flush();
    }
}

impl Write for &BatchedWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let (first, full) = {
            let mut pending = self.shared.pending();
            let first = pending.bytes.is_empty();
            pending.bytes.extend_from_slice(line);
            (first, pending.bytes.len() >= self.shared.limit)
        };

        // One wake a batch, for its first line; the lines after it only gather.
        if full {
            self.shared.write_out();
        } else if first {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.pending().stopping = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Lines logged after the thread's last batch, by threads still running.
        self.shared.write_out();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sink that records each write separately, shared with the test.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        fn writes(&self) -> Vec<Vec<u8>> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    fn log(writer: &BatchedWriter, line: &str) {
        (&mut writer.make_writer())
            .write_all(line.as_bytes())
            .expect("buffered");
    }

    #[test]
    fn lines_logged_together_reach_the_sink_in_one_write() {
        let sink = Recorder::default();
        let (writer, _guard) = BatchedWriter::new(
            sink.clone(),
            Duration::from_millis(500),
            1 << 20,
            "test-log",
        )
        .expect("started");

        for i in 0..100 {
            log(&writer, &format!("line {i}\n"));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.writes().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }

        let writes = sink.writes();
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0], expected.as_bytes());
    }

    #[test]
    fn a_full_buffer_is_written_by_the_logger_at_once() {
        let sink = Recorder::default();
        let (writer, _guard) =
            BatchedWriter::new(sink.clone(), Duration::from_secs(3_600), 64, "test-log")
                .expect("started");

        log(&writer, &"a".repeat(40));
        assert!(sink.writes().is_empty());
        log(&writer, &"b".repeat(40));

        assert_eq!(
            sink.writes(),
            [format!("{}{}", "a".repeat(40), "b".repeat(40)).into_bytes()]
        );
    }

    #[test]
    fn dropping_the_guard_writes_every_line_in_order() {
        let sink = Recorder::default();
        let (writer, guard) =
            BatchedWriter::new(sink.clone(), Duration::from_secs(3_600), 256, "test-log")
                .expect("started");

        let loggers: Vec<_> = (0..4)
            .map(|thread| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        log(&writer, &format!("{thread} {i}\n"));
                    }
                })
            })
            .collect();
        for logger in loggers {
            logger.join().expect("logged");
        }
        drop(guard);

        let written = String::from_utf8(sink.writes().concat()).expect("text");
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 2_000);
        for thread in 0..4 {
            let own: Vec<String> = lines
                .iter()
                .filter(|line| line.starts_with(&format!("{thread} ")))
                .map(|line| (*line).to_owned())
                .collect();
            let expected: Vec<String> = (0..500).map(|i| format!("{thread} {i}")).collect();
            assert_eq!(own, expected);
        }
    }
}
