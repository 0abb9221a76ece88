//! One throwaway PostgreSQL server in a temporary directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tempfile::TempDir;

use crate::tools::Tools;

/// How many free ports to try when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 5;

/// How long `pg_ctl` waits for the server to start or stop, in seconds.
const PG_CTL_WAIT_SECS: &str = "60";

/// Settings for a server whose data is thrown away: durability costs time and buys nothing
/// here. The connection limit is raised because every test opens its own pool.
const SETTINGS: &str = "
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 32MB
log_min_messages = warning
";

/// The cleanup that runs when the test process goes away, however it goes.
///
/// The script's standard input is a pipe whose only writer is the test process, so `cat`
/// returns when the process exits, even by `SIGKILL` or `abort`. It then stops the server and
/// removes its directory. An `initdb` or `pg_ctl start` that the process had started may
/// still be running and write into the directory after that, so the script repeats until the
/// directory has stayed gone for three seconds (at most a minute). Should a server still
/// come up in a removed directory, PostgreSQL notices its lock file is gone within a minute
/// and shuts itself down.
///
/// `$1` is the directory, `$2` the data directory, and the rest the words that run `pg_ctl`.
const WATCHDOG: &str = r#"
trap '' INT HUP
base=$1; data=$2; shift 2
cat >/dev/null
quiet=0; rounds=0
while [ "$quiet" -lt 3 ] && [ "$rounds" -lt 60 ]; do
    if [ -e "$base" ]; then
        quiet=0
        "$@" stop -D "$data" -m immediate -w -s >/dev/null 2>&1
        rm -rf "$base"
    else
        quiet=$((quiet + 1))
    fi
    rounds=$((rounds + 1))
    sleep 1
done
"#;

/// A PostgreSQL server of its own, in a temporary directory, listening on `127.0.0.1`.
///
/// Dropping it stops the server and deletes its data. It accepts any connection as the
/// superuser `postgres` without a password.
///
/// ```no_run
/// let server = latchkey_testdb::PostgresServer::start_new();
/// let url = server.url();
/// server.stop();
/// // the database is unreachable here
/// server.start();
/// ```
#[derive(Debug)]
pub struct PostgresServer {
    tools: Tools,
    port: u16,
    running: AtomicBool,
    watchdog: Mutex<Option<Child>>,
    // Last, so that it is removed after the server has stopped.
    dir: TempDir,
}

impl PostgresServer {
    /// Creates a database cluster in a temporary directory and starts a server on it.
    ///
    /// Takes a second or two: `initdb` dominates.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is not installed, or `initdb` or the server fails; the message says
    /// why and quotes the program's own output.
    pub fn start_new() -> Self {
        let tools = Tools::find();
        let dir = tempfile::Builder::new()
            .prefix("latchkey-pg-")
            .tempdir()
            .unwrap_or_else(|error| panic!("could not create a temporary directory: {error}"));
        tools.hand_over(dir.path());

        let mut server = Self {
            tools,
            port: 0,
            running: AtomicBool::new(false),
            watchdog: Mutex::new(None),
            dir,
        };
        server.spawn_watchdog();
        server.init_cluster();
        server.start_on_free_port();
        server
    }

    /// The URL of the server's `postgres` database, as the superuser.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The URL of a database on this server, as the superuser.
    pub fn database_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The TCP port the server listens on; it stays the same across [`stop`](Self::stop) and
    /// [`start`](Self::start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database on this server and returns its URL.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or refuses.
    pub async fn fresh_database(&self) -> String {
        crate::database::create_database(&self.url()).await
    }

    /// Whether the server is running, as far as this handle knows.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Shuts the server down as an administrator would (`pg_ctl stop -m fast`): open
    /// connections are ended and new ones refused until [`start`](Self::start). The data
    /// stays.
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails.
    pub fn stop(&self) {
        let output = self.pg_ctl(&["stop", "-m", "fast"]);
        assert!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        self.running.store(false, Ordering::SeqCst);
    }

    /// Starts the server again after [`stop`](Self::stop), on the same port with the same
    /// data, and returns once it accepts connections.
    ///
    /// # Panics
    ///
    /// When the server does not start; the message quotes its log.
    pub fn start(&self) {
        if let Err(why) = self.try_start() {
            panic!("{why}");
        }
    }

    /// The server's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `initdb`: trust authentication, since nothing but this process can reach the
    /// server, and UTF-8 with the C locale, so that text round-trips and sorts by bytes
    /// whatever the machine's locales.
    fn init_cluster(&self) {
        let output = self
            .tools
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|error| panic!("could not run initdb: {error}"));
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );

        self.append_settings();
    }

    /// Adds [`SETTINGS`] and the socket directory to `postgresql.conf`. Appending keeps the
    /// file's owner, which matters when the server runs as another user.
    fn append_settings(&self) {
        // The default socket directory (/var/run/postgresql) may not exist or be writable,
        // and a server that can create no socket at all refuses to start.
        let socket_dir = format!(
            "unix_socket_directories = '{}'\n",
            self.dir.path().display()
        );
        let conf = self.data_dir().join("postgresql.conf");

        let mut file = OpenOptions::new()
            .append(true)
            .open(&conf)
            .unwrap_or_else(|error| panic!("could not open {}: {error}", conf.display()));
        file.write_all(SETTINGS.as_bytes())
            .and_then(|()| file.write_all(socket_dir.as_bytes()))
            .unwrap_or_else(|error| panic!("could not write {}: {error}", conf.display()));
    }

    /// Starts the [`WATCHDOG`] before anything is written into the directory, so that no
    /// moment exists in which a server runs, or files lie, that nothing would remove.
    ///
    /// It gets a process group of its own, so that Ctrl-C in the terminal or a test runner
    /// killing the test's process group does not take it down before it has cleaned up.
    fn spawn_watchdog(&self) {
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("latchkey-testdb-watchdog")
            .arg(self.dir.path())
            .arg(self.data_dir())
            .args(self.tools.argv("pg_ctl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("could not start the cleanup watchdog: {error}"));

        *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
    }

    /// Starts the server on a port that was free a moment ago, trying another when some
    /// other process took it in between.
    fn start_on_free_port(&mut self) {
        let mut last_error = String::new();

        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port();
            match self.try_start() {
                Ok(()) => return,
                Err(why) if self.log().contains("could not bind") => last_error = why,
                Err(why) => panic!("{why}"),
            }
        }

        panic!("no free port after {PORT_ATTEMPTS} attempts: {last_error}");
    }

    /// Runs `pg_ctl start` and waits until the server accepts connections.
    fn try_start(&self) -> Result<(), String> {
        let port = format!("-p {}", self.port);
        let log = self.log_path();
        let log = log.to_string_lossy();

        let output = self.pg_ctl(&["start", "-l", &log, "-o", &port]);
        if !output.status.success() {
            return Err(format!(
                "the PostgreSQL server did not start: {}\n--- server log ---\n{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                tail(&self.log(), 30)
            ));
        }

        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Runs `pg_ctl` on this cluster, waiting for it to finish what it was asked.
    fn pg_ctl(&self, args: &[&str]) -> Output {
        self.tools
            .command("pg_ctl")
            .args(args)
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", PG_CTL_WAIT_SECS, "-s"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("could not run pg_ctl: {error}"))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for PostgresServer {
    /// Stops the server at once, without a shutdown checkpoint since the data is thrown
    /// away, then ends the watchdog, whose work is done, and removes the directory.
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        }

        let watchdog = self.watchdog.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = watchdog.take() {
            let _ = child.kill();
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on at this moment.
///
/// # Panics
///
/// When no port can be bound at all.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("could not find a free port on 127.0.0.1: {error}"))
}

/// The last `lines` lines of a text.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
