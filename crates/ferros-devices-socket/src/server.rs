//! The PLC simulator server: answers `STATUS` with the simulated PLC's state,
//! stays silent or sends garbage when its scenario says so.

use std::future::Future;
use std::sync::Arc;

use ferros_clock::Clock;
use ferros_devices::WeatherStatus;
use ferros_devices_sim::SimPlc;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::stream::{JsonReader, ReadError};
use crate::wire;

/// Serves until `shutdown` completes, then closes every connection.
pub async fn serve_plc(
    listener: TcpListener,
    plc: Arc<SimPlc>,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::info!("PLC simulator: client {peer}");
                    sessions.spawn(session(stream, plc.clone(), clock));
                }
                Err(e) => tracing::warn!("PLC simulator: accept failed: {e}"),
            },
            // Reap finished sessions so the set does not grow.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    sessions.abort_all();
    while sessions.join_next().await.is_some() {}
}

async fn session(mut stream: TcpStream, plc: Arc<SimPlc>, clock: Clock) {
    let mut reader = JsonReader::default();
    loop {
        let request = match reader.next(&mut stream).await {
            Ok(v) => v,
            Err(ReadError::Closed { .. }) => return,
            Err(e) => {
                let _ = send(&mut stream, &json!([{"name": "ERROR", "message": e.to_string()}])).await;
                return;
            }
        };
        let answer = match wire::command_names(&request) {
            Err(e) => json!([{"name": "ERROR", "message": e}]),
            Ok(names) if names.iter().any(|n| n == "STATUS") => {
                let now = clock.now();
                let m = plc.model(now);
                if m.silent {
                    continue;
                }
                if m.garbage {
                    let _ = stream.write_all(b"{\"name\": STATUS, garbage\n").await;
                    continue;
                }
                let status = WeatherStatus {
                    mode: m.mode,
                    measured_at: Some(now),
                    sensors: m.sensors,
                    alarms: m.alarms,
                };
                wire::encode_status(&status, now)
            }
            Ok(names) => {
                json!([{"name": "ERROR", "message": format!("unknown command {}", names.join(", "))}])
            }
        };
        if send(&mut stream, &answer).await.is_err() {
            return;
        }
    }
}

async fn send(stream: &mut TcpStream, v: &serde_json::Value) -> std::io::Result<()> {
    let mut text = v.to_string();
    text.push('\n');
    stream.write_all(text.as_bytes()).await
}
