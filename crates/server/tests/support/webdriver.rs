//! A small W3C WebDriver client over HTTP (ChromeDriver speaks it): new session, navigate,
//! find elements, click, type, read text and attributes, run a script, take a screenshot.
//! Written here because `fantoccini` and `thirtyfour` pull a second HTTP and TLS stack into
//! the build for the dozen calls these tests make.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use super::http;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The browser binaries, when installed.
pub fn binaries() -> Option<(&'static str, &'static str)> {
    let (c, d) = ("/usr/bin/chromium", "/usr/bin/chromedriver");
    (Path::new(c).exists() && Path::new(d).exists()).then_some((c, d))
}

/// A running ChromeDriver, killed when dropped.
pub struct Driver {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The key of a WebDriver element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    /// Starts ChromeDriver on a free loopback port and waits until it says it is ready
    /// (it prints "started successfully" on stdout).
    pub fn start(driver: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let out = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
        let ready = lines.by_ref().take(20).any(|l| {
            l.map(|l| l.contains("started successfully"))
                .unwrap_or(false)
        });
        assert!(ready, "chromedriver did not start");
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// A new headless Chromium session; `javascript: false` turns page scripts off.
    pub async fn session(
        &self,
        chromium: &str,
        javascript: bool,
        width: u32,
        height: u32,
        downloads: &Path,
    ) -> Session {
        let mut prefs = json!({
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
        });
        if !javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-default-apps",
                         format!("--window-size={width},{height}"),
                         "--hide-scrollbars", "--force-device-scale-factor=1"],
                "prefs": prefs,
            }
        }}});
        let a = http::request(self.addr, "POST", "/session", Some(&caps)).await;
        let v = a.json();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Session {
            driver: self.addr,
            id,
        }
    }
}

/// One browser session.
pub struct Session {
    driver: SocketAddr,
    id: String,
}

impl Session {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let p = format!("/session/{}{path}", self.id);
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let a = http::request(self.driver, method, &p, body.as_ref()).await;
        let v = a.json();
        assert!(
            a.status == 200,
            "{method} {path}: {} {}",
            a.status,
            v["value"]
        );
        v["value"].clone()
    }

    async fn try_call(&self, method: &str, path: &str) -> (u16, Value) {
        let p = format!("/session/{}{path}", self.id);
        let a = http::request(self.driver, method, &p, None).await;
        (a.status, a.json()["value"].clone())
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits (bounded: 20 s) until the browser's URL contains `part`, as a click's navigation
    /// may still be under way when the click returns; answers the URL.
    pub async fn wait_url(&self, part: &str) -> String {
        for _ in 0..400 {
            let u = self.url().await;
            if u.contains(part) {
                return u;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "the browser never reached a URL with {part:?}: {}",
            self.url().await
        );
    }

    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        assert!(
            !all.is_empty(),
            "no element matches {css:?} on {}",
            self.url().await
        );
        all[0].clone()
    }

    pub async fn click(&self, el: &str) {
        self.call("POST", &format!("/element/{el}/click"), None)
            .await;
    }

    pub async fn type_into(&self, el: &str, text: &str) {
        self.call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn text(&self, el: &str) -> String {
        self.call("GET", &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn attr(&self, el: &str, name: &str) -> String {
        self.call("GET", &format!("/element/{el}/attribute/{name}"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Runs a script through WebDriver (allowed by the browser whatever the page's policy).
    pub async fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    /// The text of an open alert, if one is open.
    pub async fn alert(&self) -> Option<String> {
        let (status, v) = self.try_call("GET", "/alert/text").await;
        (status == 200).then(|| v.as_str().unwrap_or("").to_string())
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("base64 screenshot")
    }

    pub async fn close(self) {
        let p = format!("/session/{}", self.id);
        let _ = http::request(self.driver, "DELETE", &p, None).await;
    }
}
