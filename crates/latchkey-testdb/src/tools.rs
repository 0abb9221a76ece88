//! Finding PostgreSQL's programs, and running them as a user they accept.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming a directory that holds `initdb` and `pg_ctl`, searched
/// before `PATH`.
pub const BIN_DIR_VAR: &str = "LATCHKEY_TEST_POSTGRES_BIN";

/// The system user the server runs as when the tests run as root.
const SERVER_USER: &str = "postgres";

/// Where distributions put PostgreSQL's programs when they are not on `PATH`: one
/// directory per major version, so the glob's highest version wins.
const VERSIONED_DIRS: &[&str] = &["/usr/lib/postgresql", "/usr/pgsql-"];

/// Fixed places for a source build or a single-version package.
const FIXED_DIRS: &[&str] = &[
    "/usr/local/pgsql/bin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
];

/// PostgreSQL's programs, and how to start them.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    bin: PathBuf,
    run_as: Option<RunAs>,
}

/// How a root process hands a program to the unprivileged server user.
#[derive(Debug, Clone)]
enum RunAs {
    /// `runuser -u postgres -- program`.
    Runuser(PathBuf),
    /// `setpriv --reuid postgres --regid postgres --init-groups -- program`.
    Setpriv(PathBuf),
}

impl Tools {
    /// Finds the programs and, as root, a way to drop to the server user.
    ///
    /// # Panics
    ///
    /// When no directory holds both `initdb` and `pg_ctl`, or when running as root without
    /// a `postgres` user or a tool to switch to it: a test cannot go on without a server, and
    /// skipping it would hide that nothing was tested.
    pub(crate) fn find() -> Self {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "no PostgreSQL server programs (initdb, pg_ctl) found in ${BIN_DIR_VAR}, PATH, \
                 /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin: install PostgreSQL (Debian: \
                 `apt-get install postgresql`) or set {} to a running server",
                crate::URL_VAR
            )
        });

        let run_as = is_root().then(find_run_as);
        Self { bin, run_as }
    }

    /// A command running one of PostgreSQL's programs, as the server user when needed.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut argv = self.argv(program).into_iter();
        let mut command = Command::new(argv.next().unwrap_or_default());
        command.args(argv);
        command
    }

    /// The words that start one of PostgreSQL's programs, for a shell script to run.
    pub(crate) fn argv(&self, program: &str) -> Vec<OsString> {
        let program = self.bin.join(program).into_os_string();
        match &self.run_as {
            None => vec![program],
            Some(RunAs::Runuser(runuser)) => vec![
                runuser.clone().into_os_string(),
                "-u".into(),
                SERVER_USER.into(),
                "--".into(),
                program,
            ],
            Some(RunAs::Setpriv(setpriv)) => vec![
                setpriv.clone().into_os_string(),
                "--reuid".into(),
                SERVER_USER.into(),
                "--regid".into(),
                SERVER_USER.into(),
                "--init-groups".into(),
                "--".into(),
                program,
            ],
        }
    }

    /// Gives a directory to the server user, who must be able to write into it.
    ///
    /// # Panics
    ///
    /// When `chown` fails.
    pub(crate) fn hand_over(&self, dir: &Path) {
        if self.run_as.is_none() {
            return;
        }

        let owner = format!("{SERVER_USER}:{SERVER_USER}");
        let output = Command::new("chown")
            .arg("-R")
            .arg(owner)
            .arg(dir)
            .output()
            .unwrap_or_else(|error| panic!("could not run chown: {error}"));
        assert!(
            output.status.success(),
            "could not give {} to the {SERVER_USER} user: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
}

/// The first directory holding both `initdb` and `pg_ctl`: the explicit one, then `PATH`,
/// then the highest installed version, then fixed places.
fn find_bin_dir() -> Option<PathBuf> {
    let explicit = env::var_os(BIN_DIR_VAR).map(PathBuf::from);
    let on_path = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let versioned = VERSIONED_DIRS
        .iter()
        .flat_map(|prefix| versioned_bin_dirs(prefix));
    let fixed = FIXED_DIRS.iter().map(PathBuf::from);

    explicit
        .into_iter()
        .chain(on_path)
        .chain(versioned)
        .chain(fixed)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// The `bin` directories of every installed version under a prefix, highest version first.
///
/// `/usr/lib/postgresql` holds `15/bin`, `16/bin`; `/usr/pgsql-` is the start of
/// `/usr/pgsql-15/bin`. Versions compare as numbers, so 10 is above 9.6.
fn versioned_bin_dirs(prefix: &str) -> Vec<PathBuf> {
    let prefix = Path::new(prefix);
    let (parent, stem) = if prefix.to_string_lossy().ends_with('-') {
        let parent = prefix.parent().unwrap_or(Path::new("/"));
        let stem = prefix
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        (parent.to_path_buf(), stem.unwrap_or_default())
    } else {
        (prefix.to_path_buf(), String::new())
    };

    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = parse_version(name.strip_prefix(&stem)?)?;
            Some((version, entry.path().join("bin")))
        })
        .collect();

    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// Whether this process runs as root, where `initdb` and `postgres` refuse to run.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A tool that runs a program as the server user.
///
/// # Panics
///
/// When the user does not exist or neither tool is installed.
fn find_run_as() -> RunAs {
    let user_exists = Command::new("id")
        .args(["-u", SERVER_USER])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        user_exists,
        "the tests run as root, where PostgreSQL refuses to run, and there is no `{SERVER_USER}` \
         user to run it as: install PostgreSQL's package (it creates the user), create one with \
         `useradd --system {SERVER_USER}`, or set {} to a running server",
        crate::URL_VAR
    );

    let sbin = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
    if let Some(runuser) = find_program("runuser", &sbin) {
        return RunAs::Runuser(runuser);
    }
    if let Some(setpriv) = find_program("setpriv", &sbin) {
        return RunAs::Setpriv(setpriv);
    }
    panic!(
        "the tests run as root and neither `runuser` nor `setpriv` (util-linux) is installed \
         to run PostgreSQL as `{SERVER_USER}`: install util-linux or set {}",
        crate::URL_VAR
    );
}

/// A program on `PATH` or, since `PATH` often lacks the `sbin` directories, in `extra`.
fn find_program(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let on_path = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();

    on_path
        .into_iter()
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers_so_ten_is_above_nine_point_six() {
        let mut versions = vec![
            parse_version("9.6"),
            parse_version("10"),
            parse_version("15"),
        ];
        versions.sort();

        assert_eq!(versions, [Some(vec![9, 6]), Some(vec![10]), Some(vec![15])]);
    }

    #[test]
    fn a_directory_that_is_not_a_version_is_ignored() {
        assert_eq!(parse_version("main"), None);
        assert_eq!(parse_version(""), None);
    }
}
