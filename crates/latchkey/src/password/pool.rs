//! The hashing threads: a few dedicated std threads that take jobs from one queue.
//!
//! A password hash takes tens of milliseconds of CPU and megabytes of memory by design, so it
//! must not run on an async executor's threads, where it would stall every other task. Nor on
//! a blocking pool that grows with demand: under a flood of sign-ins, hundreds of concurrent
//! hashes each allocating 19 MiB were measured to take several GB. A fixed number of threads,
//! each reusing one Argon2 buffer, bounds both CPU and memory; excess jobs wait in the queue,
//! whose length [`PasswordHasher::queue_depth`] reports so that an application can shed load.
//! The threads run below the rest of the process by default ([`HashingPriority`]), so that
//! the requests that need no hash keep the CPU they need while sign-ins queue.
//!
//! Results come back through a `futures_channel` oneshot, so the core depends on no runtime.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};
use std::{fmt, thread};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use futures_channel::oneshot;

use super::argon2id::{self, Argon2Memory};
use super::secret::normalize;
use super::{HasherConfig, HashingPriority, Password, PasswordHash, Verification};
use crate::error::HashError;

/// The password that the stand-in hash for a missing one is made from. It need not be secret:
/// whatever the outcome of that verification, the answer is [`Verification::Invalid`].
const DUMMY_PASSWORD: &str = "latchkey dummy password";

/// Hashes and verifies passwords on a few dedicated threads.
///
/// Cloning is cheap and shares the threads. They stop when the last clone is dropped, after
/// finishing the jobs already queued.
///
/// ```
/// use latchkey::{Argon2Params, HasherConfig, Password, PasswordHasher, Verification};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), latchkey::HashError> {
/// let hasher = PasswordHasher::new(HasherConfig::default())?;
/// # let hasher = PasswordHasher::new(HasherConfig {
/// #     argon2: Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 },
/// #     threads: 1,
/// #     ..HasherConfig::default()
/// # })?;
///
/// let hash = hasher.hash(&Password::new("correct horse")).await?;
/// let verification = hasher.verify(&Password::new("correct horse"), Some(&hash)).await?;
/// assert!(verification.is_valid());
///
/// // With no stored hash, the time is spent all the same.
/// let verification = hasher.verify(&Password::new("correct horse"), None).await?;
/// assert_eq!(verification, Verification::Invalid);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: Sender<(Instant, Job)>,
    shared: Arc<Shared>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.shared.params)
            .field("queue_depth", &self.queue_depth())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Starts `config.threads` hashing threads, named `latchkey-hash-0` and onwards, at
    /// `config.priority`.
    ///
    /// # Errors
    ///
    /// [`HashError::InvalidParams`] if the Argon2 parameters are out of range or `threads` is
    /// zero; [`HashError::Compute`] if the operating system refuses a thread.
    pub fn new(config: HasherConfig) -> Result<Self, HashError> {
        Self::with_wait_observer(config, None)
    }

    /// Like [`new`](Self::new), calling `on_wait` as each job starts with how long it waited
    /// for a thread: for a metric of the queue's wait time.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn with_wait_observer(
        config: HasherConfig,
        on_wait: Option<WaitObserver>,
    ) -> Result<Self, HashError> {
        let params = config.argon2.to_argon2()?;
        if config.threads == 0 {
            return Err(HashError::InvalidParams(
                "at least one hashing thread is needed".into(),
            ));
        }

        let shared = Arc::new(Shared {
            params,
            queued: AtomicUsize::new(0),
            dummy: OnceLock::new(),
            on_wait,
            #[cfg(test)]
            probe: Probe::default(),
        });
        let (jobs, queue) = crossbeam_channel::unbounded();

        // If a spawn fails, returning drops `jobs`, and the threads already started stop.
        for n in 0..config.threads {
            let (queue, shared) = (queue.clone(), Arc::clone(&shared));
            let priority = config.priority;
            thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || {
                    if priority == HashingPriority::Lowered {
                        lower_own_priority();
                    }
                    #[cfg(test)]
                    shared.probe.started();
                    work(&queue, &shared)
                })
                .map_err(|error| {
                    HashError::Compute(format!("could not start a hashing thread: {error}"))
                })?;
        }

        tracing::debug!(
            threads = config.threads,
            memory_kib = config.argon2.memory_kib,
            iterations = config.argon2.iterations,
            parallelism = config.argon2.parallelism,
            priority = ?config.priority,
            "password hashing threads started"
        );
        Ok(Self { jobs, shared })
    }

    /// Hashes a password, after NFKC normalisation, into an Argon2id PHC string with a fresh
    /// random salt and the configured cost.
    ///
    /// # Errors
    ///
    /// [`HashError::PoolClosed`] if the hashing threads are gone; [`HashError::Compute`] if
    /// Argon2 fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash {
            password: password.clone(),
            reply,
        })?;

        answer.await.map_err(|_| HashError::PoolClosed)?
    }

    /// Verifies a password, after NFKC normalisation, against a stored Argon2 PHC string or
    /// Lucia v2 scrypt hash.
    ///
    /// A hash that cannot be parsed is [`Verification::Invalid`], never an error. With no
    /// hash, as when no account has the name that was typed, the password is verified against
    /// a stand-in Argon2id hash made once with the configured cost, and the answer is
    /// `Invalid`: the time taken then does not tell whether an account exists (OWASP
    /// Authentication Cheat Sheet, "Authentication Responses").
    ///
    /// # Errors
    ///
    /// [`HashError::PoolClosed`] if the hashing threads are gone; [`HashError::Compute`] if a
    /// hash function fails on something other than the stored hash.
    pub async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<Verification, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: password.clone(),
            hash: hash.cloned(),
            reply,
        })?;

        answer.await.map_err(|_| HashError::PoolClosed)?
    }

    /// Jobs waiting for a hashing thread, not counting those running.
    pub fn queue_depth(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Queues a job, counting it until a thread takes it.
    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send((Instant::now(), job)).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(HashError::PoolClosed);
        }
        Ok(())
    }
}

/// How long a hashing thread waits for work before it frees its Argon2 memory.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// How many nice levels a hashing thread at [`HashingPriority::Lowered`] goes down.
const NICE_INCREMENT: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`NICE_INCREMENT`]. On Linux the nice
/// value belongs to each thread, not to the process (setpriority(2), "Bugs"), so the rest of
/// the process keeps its own. Relative, not set to 10: the threads of a process started at
/// nice 15 go to 19, not back up to 10, which a process run as root would be allowed to do.
///
/// A failure is logged once and otherwise ignored: hashing at the normal priority costs the
/// request path some latency under load, nothing more.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn lower_own_priority() {
    static WARNED: Once = Once::new();

    if let Err(error) = rustix::process::nice(NICE_INCREMENT) {
        WARNED.call_once(|| {
            tracing::warn!(
                %error,
                "cannot lower the priority of the password hashing threads; they compete with \
                 requests on equal terms"
            );
        });
    }
}

/// Elsewhere nice(2) changes the whole process, or does not exist, so the threads keep the
/// normal priority. TODO: lower them on macOS and Windows too, each through its own
/// per-thread priority call, if Latchkey comes to be served from either.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn lower_own_priority() {
    static TOLD: Once = Once::new();

    TOLD.call_once(|| {
        tracing::debug!("password hashing threads keep the normal priority on this system");
    });
}

/// Told, as each hashing job starts, how long it waited for a thread.
#[derive(Clone)]
pub struct WaitObserver(Arc<dyn Fn(Duration) + Send + Sync>);

impl WaitObserver {
    /// Wraps the function to call. It runs on a hashing thread, so it must be quick.
    pub fn new(observe: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }
}

impl fmt::Debug for WaitObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WaitObserver")
    }
}

/// What the caller and the hashing threads share.
struct Shared {
    params: argon2::Params,
    queued: AtomicUsize,
    dummy: OnceLock<PasswordHash>,
    on_wait: Option<WaitObserver>,
    #[cfg(test)]
    probe: Probe,
}

impl Shared {
    /// The stand-in hash for a missing one, made on first use on a hashing thread.
    fn dummy(&self, memory: &mut Argon2Memory) -> Result<&PasswordHash, HashError> {
        if let Some(dummy) = self.dummy.get() {
            return Ok(dummy);
        }

        // Two threads may both get here; one hash is kept and the other dropped, which is
        // cheaper than making every thread wait on a lock held across a hash.
        let password = normalize(&Password::new(DUMMY_PASSWORD));
        let dummy = argon2id::hash(memory, &self.params, password.as_bytes())?;
        Ok(self.dummy.get_or_init(|| dummy))
    }
}

/// Counters that let tests see what the threads did.
#[cfg(test)]
#[derive(Default)]
struct Probe {
    running: AtomicUsize,
    most_running: AtomicUsize,
    skipped: AtomicUsize,
    released: AtomicUsize,
    /// Jobs after which the thread went on to the next with its blocks not wiped.
    went_on_unwiped: AtomicUsize,
    /// Jobs after which the thread found no work and its blocks were all zero.
    idle_wiped: AtomicUsize,
    /// Jobs after which the thread found no work and its blocks were not all zero.
    idle_unwiped: AtomicUsize,
    /// Each thread's `/proc/<pid>/task/<tid>`, noted as it started, on Linux.
    tasks: std::sync::Mutex<Vec<std::path::PathBuf>>,
}

#[cfg(test)]
impl Probe {
    /// Notes where the calling thread's procfs entry is, so that tests can read its state.
    fn started(&self) {
        if let Ok(task) = std::fs::read_link("/proc/thread-self") {
            let task = std::path::Path::new("/proc").join(task);
            self.tasks.lock().expect("probe lock").push(task);
        }
    }

    /// Counts what a thread's memory looks like as it finishes a job.
    fn after_job(&self, memory: &Argon2Memory, went_on: bool) {
        let counter = match (went_on, memory.is_wiped()) {
            (true, true) => return,
            (true, false) => &self.went_on_unwiped,
            (false, true) => &self.idle_wiped,
            (false, false) => &self.idle_unwiped,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// One piece of work for a hashing thread, with where to send its result.
enum Job {
    Hash {
        password: Password,
        reply: oneshot::Sender<Result<PasswordHash, HashError>>,
    },
    Verify {
        password: Password,
        hash: Option<PasswordHash>,
        reply: oneshot::Sender<Result<Verification, HashError>>,
    },
    /// Holds its thread until told to go on, so that tests can line jobs up behind it.
    #[cfg(test)]
    Pause(crossbeam_channel::Receiver<()>),
}

impl Job {
    /// Whether the caller stopped waiting, as when a request times out or its client leaves.
    fn is_abandoned(&self) -> bool {
        match self {
            Job::Hash { reply, .. } => reply.is_canceled(),
            Job::Verify { reply, .. } => reply.is_canceled(),
            #[cfg(test)]
            Job::Pause(_) => false,
        }
    }

    /// Does the work and sends the result. A caller that stopped waiting meanwhile is not an
    /// error, so a failed send is ignored.
    fn run(self, memory: &mut Argon2Memory, shared: &Shared) {
        match self {
            Job::Hash { password, reply } => {
                let result = contain_panic(|| {
                    let password = normalize(&password);
                    argon2id::hash(memory, &shared.params, password.as_bytes())
                });
                let _ = reply.send(result);
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let result = contain_panic(|| verify(memory, shared, &password, hash.as_ref()));
                let _ = reply.send(result);
            }
            #[cfg(test)]
            Job::Pause(go_on) => {
                let _ = go_on.recv();
            }
        }
    }
}

/// A hashing thread's loop: it ends when the last [`PasswordHasher`] is dropped.
fn work(queue: &Receiver<(Instant, Job)>, shared: &Shared) {
    let mut memory = Argon2Memory::new(&shared.params);
    let mut next = None;

    while let Some((queued_at, job)) = next.take().or_else(|| wait(queue, &mut memory, shared)) {
        shared.queued.fetch_sub(1, Ordering::Relaxed);
        if job.is_abandoned() {
            #[cfg(test)]
            shared.probe.skipped.fetch_add(1, Ordering::SeqCst);
        } else {
            start(job, queued_at, &mut memory, shared);
        }

        // The wipe waits until the queue is empty. With the next job in hand, the next hash
        // overwrites the blocks before reading any; under a flood of sign-ins, wiping 19 MiB
        // after every hash took 3% of the site's CPU (docs/benchmarks.md). A job that does
        // not hash, or hashes at a lower cost, leaves some blocks as they were: they stay
        // only while this thread has work waiting, and are wiped when it has none.
        next = queue.try_recv().ok();
        if next.is_none() {
            memory.wipe();
        }
        #[cfg(test)]
        shared.probe.after_job(&memory, next.is_some());
    }
}

/// Waits for the next job, or `None` once the last [`PasswordHasher`] is dropped.
#[cfg_attr(
    not(test),
    expect(unused_variables, reason = "only the tests' probe reads `shared`")
)]
fn wait(
    queue: &Receiver<(Instant, Job)>,
    memory: &mut Argon2Memory,
    shared: &Shared,
) -> Option<(Instant, Job)> {
    match queue.recv_timeout(IDLE_RELEASE) {
        Ok(next) => Some(next),
        Err(RecvTimeoutError::Timeout) => {
            // A thread idle for a while gives its buffer back, so that a burst of sign-ins
            // does not leave the process 19 MiB per thread larger for good; the next hash
            // allocates it again, about a millisecond.
            memory.release();
            #[cfg(test)]
            shared.probe.released.fetch_add(1, Ordering::SeqCst);
            queue.recv().ok()
        }
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

/// Runs one job that its caller still waits for.
fn start(job: Job, queued_at: Instant, memory: &mut Argon2Memory, shared: &Shared) {
    #[cfg(test)]
    {
        let running = shared.probe.running.fetch_add(1, Ordering::SeqCst) + 1;
        shared
            .probe
            .most_running
            .fetch_max(running, Ordering::SeqCst);
    }

    if let Some(on_wait) = &shared.on_wait {
        (on_wait.0)(queued_at.elapsed());
    }
    job.run(memory, shared);

    #[cfg(test)]
    shared.probe.running.fetch_sub(1, Ordering::SeqCst);
}

/// Verifies against the stored hash, or against the stand-in when there is none.
fn verify(
    memory: &mut Argon2Memory,
    shared: &Shared,
    password: &Password,
    hash: Option<&PasswordHash>,
) -> Result<Verification, HashError> {
    let password = normalize(password);

    match hash {
        Some(hash) => super::verify_stored(memory, &shared.params, password.as_bytes(), hash),
        None => {
            let dummy = shared.dummy(memory)?;
            super::verify_stored(memory, &shared.params, password.as_bytes(), dummy)?;
            Ok(Verification::Invalid)
        }
    }
}

/// Turns a panic in a hash function into an error for that one caller, so that the thread
/// lives on for the next job.
fn contain_panic<T>(job: impl FnOnce() -> Result<T, HashError>) -> Result<T, HashError> {
    panic::catch_unwind(AssertUnwindSafe(job))
        .unwrap_or_else(|_| Err(HashError::Compute("hashing thread panicked".into())))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::password::Argon2Params;

    fn cheap(threads: usize) -> PasswordHasher {
        PasswordHasher::new(HasherConfig {
            argon2: Argon2Params {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            threads,
            ..HasherConfig::default()
        })
        .expect("valid config")
    }

    /// Occupies the only thread of `hasher` until the returned sender is dropped or sent to.
    async fn pause(hasher: &PasswordHasher) -> crossbeam_channel::Sender<()> {
        let (go_on, paused) = crossbeam_channel::bounded(1);
        hasher.submit(Job::Pause(paused)).expect("pool open");
        while hasher.shared.probe.running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        go_on
    }

    /// Whether `condition` holds within ten seconds, checked every millisecond.
    async fn eventually(condition: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while !condition() {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    #[tokio::test]
    async fn a_password_hashed_on_the_threads_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap(1);

        let hash = hasher
            .hash(&Password::new("correct horse"))
            .await
            .expect("hash");
        let right = hasher
            .verify(&Password::new("correct horse"), Some(&hash))
            .await;
        let wrong = hasher
            .verify(&Password::new("correct horsf"), Some(&hash))
            .await;

        assert_eq!(
            right.expect("verify"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(wrong.expect("verify"), Verification::Invalid);
    }

    #[tokio::test]
    async fn a_password_is_normalised_before_hashing() {
        let hasher = cheap(1);

        let hash = hasher
            .hash(&Password::new("ＦｕｌｌＷｉｄｔｈ"))
            .await
            .expect("hash");
        let verification = hasher
            .verify(&Password::new("FullWidth"), Some(&hash))
            .await;

        assert!(verification.expect("verify").is_valid());
    }

    #[tokio::test]
    async fn verifying_without_a_hash_is_invalid_even_for_the_dummy_password() {
        let hasher = cheap(1);

        let verification = hasher.verify(&Password::new(DUMMY_PASSWORD), None).await;

        assert_eq!(verification.expect("verify"), Verification::Invalid);
        assert!(hasher.shared.dummy.get().is_some());
    }

    #[tokio::test]
    async fn the_dummy_hash_has_the_configured_cost() {
        let hasher = cheap(1);

        hasher
            .verify(&Password::new("x"), None)
            .await
            .expect("verify");
        let dummy = hasher.shared.dummy.get().expect("made on first use");

        assert!(dummy
            .expose_secret()
            .starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    }

    #[tokio::test]
    async fn verifying_without_a_hash_takes_about_as_long_as_with_one() {
        let hasher = PasswordHasher::new(HasherConfig {
            argon2: Argon2Params {
                memory_kib: 8192,
                iterations: 2,
                parallelism: 1,
            },
            threads: 1,
            ..HasherConfig::default()
        })
        .expect("valid config");
        let password = Password::new("correct horse");
        let hash = hasher.hash(&password).await.expect("hash");
        hasher
            .verify(&password, None)
            .await
            .expect("makes the dummy");

        // Minimums, interleaved: load on the machine only ever adds time, so the fastest run
        // of each is the fairest comparison.
        let (mut with_hash, mut without) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            let start = Instant::now();
            hasher.verify(&password, Some(&hash)).await.expect("verify");
            with_hash = with_hash.min(start.elapsed());

            let start = Instant::now();
            hasher.verify(&password, None).await.expect("verify");
            without = without.min(start.elapsed());
        }

        assert!(without * 2 >= with_hash, "{without:?} vs {with_hash:?}");
    }

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_there_are_threads() {
        let hasher = cheap(2);

        let jobs: Vec<_> = (0..16)
            .map(|n| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&Password::new(format!("pw {n}"))).await })
            })
            .collect();
        let mut hashes = Vec::new();
        for job in jobs {
            hashes.push(job.await.expect("task").expect("hash"));
        }

        assert_eq!(hashes.len(), 16);
        assert!(hasher.shared.probe.most_running.load(Ordering::SeqCst) <= 2);
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[tokio::test]
    async fn queue_depth_counts_the_jobs_waiting_for_a_thread() {
        let hasher = cheap(1);
        let go_on = pause(&hasher).await;

        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&Password::new("pw")).await })
            })
            .collect();
        while hasher.queue_depth() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        go_on.send(()).expect("pause waiting");
        for job in waiting {
            job.await.expect("task").expect("hash");
        }

        assert_eq!(hasher.queue_depth(), 0);
    }

    #[tokio::test]
    async fn the_wait_observer_hears_how_long_each_job_queued() {
        let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = waits.clone();
        let observer = WaitObserver::new(move |waited| sink.lock().expect("lock").push(waited));
        let hasher = PasswordHasher::with_wait_observer(
            HasherConfig {
                argon2: Argon2Params {
                    memory_kib: 1024,
                    iterations: 1,
                    parallelism: 1,
                },
                threads: 1,
                ..HasherConfig::default()
            },
            Some(observer),
        )
        .expect("valid config");
        let go_on = pause(&hasher).await;

        let queued = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&Password::new("pw")).await })
        };
        while hasher.queue_depth() < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        go_on.send(()).expect("pause waiting");
        queued.await.expect("task").expect("hash");

        let waits = waits.lock().expect("lock").clone();
        // The pause job itself and the hash that queued behind it.
        assert_eq!(waits.len(), 2);
        assert!(waits[1] >= Duration::from_millis(50), "{waits:?}");
    }

    #[tokio::test]
    async fn an_idle_thread_gives_its_memory_back_and_hashes_again_after() {
        let hasher = cheap(1);
        let first = hasher.hash(&Password::new("before")).await.expect("hash");

        tokio::time::sleep(IDLE_RELEASE + Duration::from_millis(300)).await;
        let released = hasher.shared.probe.released.load(Ordering::SeqCst);
        let verified = hasher
            .verify(&Password::new("before"), Some(&first))
            .await
            .expect("verify");

        assert!(released >= 1);
        assert!(verified.is_valid());
    }

    #[tokio::test]
    async fn after_a_lone_hash_the_thread_wipes_its_memory_before_it_waits() {
        let hasher = cheap(1);
        let probe = &hasher.shared.probe;

        hasher.hash(&Password::new("pw")).await.expect("hash");
        let finished = eventually(|| probe.idle_wiped.load(Ordering::SeqCst) == 1).await;

        assert!(finished, "the thread never went idle with its memory wiped");
        assert_eq!(probe.idle_unwiped.load(Ordering::SeqCst), 0);
        assert_eq!(probe.went_on_unwiped.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn hashes_queued_back_to_back_skip_the_wipe_until_the_queue_is_empty() {
        let hasher = cheap(1);
        let probe = &hasher.shared.probe;
        let go_on = pause(&hasher).await;

        let queued: Vec<_> = (0..3)
            .map(|n| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&Password::new(format!("pw {n}"))).await })
            })
            .collect();
        while hasher.queue_depth() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        go_on.send(()).expect("pause waiting");
        for job in queued {
            job.await.expect("task").expect("hash");
        }
        let finished = eventually(|| probe.idle_wiped.load(Ordering::SeqCst) == 1).await;

        // The first two hashes had the next in line; the third had none.
        assert_eq!(probe.went_on_unwiped.load(Ordering::SeqCst), 2);
        assert!(finished, "the thread never went idle with its memory wiped");
        assert_eq!(probe.idle_unwiped.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_job_whose_caller_gave_up_is_skipped() {
        let hasher = cheap(1);
        let go_on = pause(&hasher).await;

        let gave_up =
            tokio::time::timeout(Duration::from_millis(5), hasher.hash(&Password::new("pw"))).await;
        go_on.send(()).expect("pause waiting");
        hasher.hash(&Password::new("pw")).await.expect("hash");

        assert!(gave_up.is_err());
        assert_eq!(hasher.shared.probe.skipped.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_threads_stop_when_the_last_hasher_is_dropped() {
        let hasher = cheap(2);
        let last = hasher.clone();
        let shared = Arc::clone(&hasher.shared);

        drop(hasher);
        last.hash(&Password::new("pw")).await.expect("hash");
        drop(last);
        let stopped = tokio::time::timeout(Duration::from_secs(10), async {
            while Arc::strong_count(&shared) > 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;

        assert!(stopped.is_ok(), "threads still hold the shared state");
    }

    #[tokio::test]
    async fn a_stopped_pool_answers_pool_closed() {
        let (jobs, queue) = crossbeam_channel::unbounded();
        drop(queue);
        let hasher = PasswordHasher {
            jobs,
            shared: Arc::clone(&cheap(1).shared),
        };

        let result = hasher.hash(&Password::new("pw")).await;

        assert!(matches!(result, Err(HashError::PoolClosed)));
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[test]
    fn zero_threads_or_impossible_params_are_refused() {
        let no_threads = HasherConfig {
            threads: 0,
            ..HasherConfig::default()
        };
        let no_memory = HasherConfig {
            argon2: Argon2Params {
                memory_kib: 1,
                iterations: 1,
                parallelism: 1,
            },
            threads: 1,
            ..HasherConfig::default()
        };

        assert!(matches!(
            PasswordHasher::new(no_threads),
            Err(HashError::InvalidParams(_))
        ));
        assert!(matches!(
            PasswordHasher::new(no_memory),
            Err(HashError::InvalidParams(_))
        ));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_threads_are_named_for_latchkey() {
        let hasher = cheap(1);

        // A thread names itself as it starts; once it has done a job, it has started.
        hasher.hash(&Password::new("pw")).await.expect("hash");
        let tasks = std::fs::read_dir("/proc/self/task").expect("procfs");
        let mut names = tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok());

        assert!(names.any(|name| name.trim() == "latchkey-hash-0"));
    }

    /// The nice value of a thread, field 19 of its `stat` in procfs.
    #[cfg(target_os = "linux")]
    fn nice_of(task: &std::path::Path) -> i32 {
        let stat = std::fs::read_to_string(task.join("stat")).expect("procfs");

        // Field 2, the thread's name, is in parentheses and may hold spaces.
        let after_name = &stat[stat.rfind(')').expect("name") + 1..];
        let nice = after_name.split_whitespace().nth(16).expect("field 19");
        nice.parse().expect("a number")
    }

    /// The nice values of the threads of `hasher`, once all have started.
    #[cfg(target_os = "linux")]
    async fn nice_values(hasher: &PasswordHasher, threads: usize) -> Vec<i32> {
        let tasks = &hasher.shared.probe.tasks;
        let started = eventually(|| tasks.lock().expect("lock").len() == threads).await;
        assert!(started, "not every thread started");

        let tasks = tasks.lock().expect("lock").clone();
        for task in &tasks {
            let name = std::fs::read_to_string(task.join("comm")).expect("procfs");
            assert!(name.starts_with("latchkey-hash-"), "{name:?}");
        }
        tasks.iter().map(|task| nice_of(task)).collect()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_threads_run_ten_nice_levels_below_the_thread_that_starts_them() {
        let starter = nice_of(std::path::Path::new("/proc/thread-self"));

        let hasher = cheap(2);
        let nice = nice_values(&hasher, 2).await;

        let lowered = (starter + 10).min(19);
        assert_eq!(nice, [lowered, lowered], "started at {starter}");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn at_normal_priority_the_threads_keep_the_nice_value_of_the_thread_that_starts_them() {
        let starter = nice_of(std::path::Path::new("/proc/thread-self"));

        let hasher = PasswordHasher::new(HasherConfig {
            priority: HashingPriority::Normal,
            ..HasherConfig::default()
        })
        .expect("valid config");
        let threads = HasherConfig::default().threads;
        let nice = nice_values(&hasher, threads).await;

        assert_eq!(nice, vec![starter; threads]);
    }
}
