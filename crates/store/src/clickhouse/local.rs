//! Starting a private `clickhouse-server` for tests and benchmarks: its own config, data and
//! log directories under a directory the caller owns, loopback ports only, stopped (killed and
//! reaped) when the value is dropped. Never the system service.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first ping.
const STARTUP: Duration = Duration::from_secs(60);

/// A running private ClickHouse server.
#[derive(Debug)]
pub struct LocalServer {
    child: Child,
    dir: PathBuf,
    /// Its HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// Its native-protocol port on 127.0.0.1 (what `Distributed` tables use between nodes).
    pub tcp_port: u16,
}

/// The server binary: `$INTERFERO_CLICKHOUSE_SERVER`, else Debian's `/usr/sbin/clickhouse-server`,
/// else `clickhouse-server` on the PATH; `None` when there is none.
pub fn server_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("INTERFERO_CLICKHOUSE_SERVER") {
        return Some(PathBuf::from(p));
    }
    let debian = Path::new("/usr/sbin/clickhouse-server");
    if debian.exists() {
        return Some(debian.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("clickhouse-server"))
            .find(|p| p.exists())
    })
}

/// A free loopback port (bound and released; the server binds it right after).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalServer {
    /// Starts a server with its files under `dir` and waits until it answers. `remote_servers`
    /// is the inner XML of `<remote_servers>` (cluster definitions), when a `Distributed` table
    /// will be used.
    pub fn start(dir: &Path, remote_servers: Option<&str>) -> std::io::Result<LocalServer> {
        Self::start_on(dir, free_port()?, free_port()?, remote_servers)
    }

    /// Like [`LocalServer::start`] on given ports (a cluster's definition names its nodes'
    /// native ports before they start).
    pub fn start_on(
        dir: &Path,
        http_port: u16,
        tcp_port: u16,
        remote_servers: Option<&str>,
    ) -> std::io::Result<LocalServer> {
        let binary = server_binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "clickhouse-server is not installed (apt-get install clickhouse-server)",
            )
        })?;
        for sub in ["data", "tmp", "user_files", "format_schemas", "log"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let d = dir.display();
        let interserver = free_port()?;
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <remote_servers>{}</remote_servers>
</yandex>
"#,
            remote_servers.unwrap_or("")
        );
        std::fs::write(dir.join("config.xml"), config)?;
        std::fs::write(dir.join("users.xml"), USERS)?;
        let child = Command::new(binary)
            .arg(format!("--config-file={d}/config.xml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log/stderr.log"))?)
            .spawn()?;
        let mut server = LocalServer {
            child,
            dir: dir.to_path_buf(),
            http_port,
            tcp_port,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// `clickhouse://127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{db}", self.http_port)
    }

    fn wait_ready(&mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if ping(self.http_port) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.join("log/err.log")).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(std::io::Error::other(format!(
                    "clickhouse-server exited ({status}) before answering: {tail}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "clickhouse-server did not answer on port {} within {} s",
                    self.http_port,
                    STARTUP.as_secs()
                )));
            }
            // Polling the port: the server gives no other signal that it is ready.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether the server's `/ping` answers `Ok.`.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.take(4096).read_to_end(&mut buf);
    buf.windows(3).any(|w| w == b"Ok.")
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One user, `default`, without password, from loopback only; LowCardinality columns allowed
/// (experimental in 18.16).
const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default>
    <max_memory_usage>2000000000</max_memory_usage>
    <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
  </default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
