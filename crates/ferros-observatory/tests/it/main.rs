//! Drivers and addresses resolved from the settings; the default observatory.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use ferros_clock::Clock;
use ferros_config::{Device, Driver, Settings};
use ferros_devices_sim::Scenario;
use ferros_observatory::{Observatory, slots};

fn quiet() -> Scenario {
    Scenario { iterations: 0, changes: Vec::new() }
}

#[test]
fn defaults_per_driver() {
    let mut s = Settings::default();
    assert!(slots(&s).unwrap().iter().all(|x| x.driver == Driver::Sim && x.address.is_none()));
    s.devices.driver = Driver::Socket;
    let socket = slots(&s).unwrap();
    let addr: Vec<_> = socket.iter().map(|x| x.address.as_deref().unwrap()).collect();
    assert_eq!(
        addr,
        [
            "127.0.0.1:5000",
            "127.0.0.1:5004",
            "127.0.0.1:5001",
            "127.0.0.1:5002",
            "127.0.0.1:5001",
            "127.0.0.1:5002",
            "127.0.0.1:5003"
        ]
    );
    s.devices.driver = Driver::Indi;
    s.devices.camera_nir = Device { device: Some("CAGIRE".into()), ..Device::default() };
    let indi = slots(&s).unwrap();
    assert_eq!(indi[0].device.as_deref(), Some("Telescope Simulator"));
    assert_eq!((indi[3].driver, indi[3].device.as_deref()), (Driver::Indi, Some("CAGIRE")));
    assert_eq!(indi[5].driver, Driver::None, "no NIR wheel unless named");
    assert!(
        indi.iter()
            .filter(|x| x.driver == Driver::Indi)
            .all(|x| x.address.as_deref() == Some("127.0.0.1:7624"))
    );
    s.devices.driver = Driver::Alpaca;
    s.devices.dome = Device { driver: Some(Driver::None), ..Device::default() };
    let alpaca = slots(&s).unwrap();
    assert_eq!(
        (alpaca[0].address.as_deref(), alpaca[0].device.as_deref()),
        (Some("http://127.0.0.1:11111"), Some("0"))
    );
    assert_eq!(alpaca[1].driver, Driver::None);
}

#[test]
fn a_socket_config_file_gives_the_ports() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("ports.ini");
    std::fs::write(&ini, "[CameraVIS]\nip=10.1.1.1\nport=6001\n").unwrap();
    let mut s = Settings::default();
    s.devices.driver = Driver::Socket;
    s.devices.socket_config = Some(ini.clone());
    let x = slots(&s).unwrap();
    assert_eq!(x[2].address.as_deref(), Some("10.1.1.1:6001"));
    assert_eq!(x[4].address.as_deref(), Some("10.1.1.1:6001"), "the wheel is on its camera's port");
    std::fs::write(&ini, "[CameraVIS]\nport=sixty\n").unwrap();
    let e = slots(&s).unwrap_err().to_string();
    assert!(e.contains("ports.ini") && e.contains("line 2"), "{e}");
}

#[tokio::test]
async fn the_default_observatory_is_simulated_and_answers() {
    let obs = Observatory::build(&Settings::default(), Clock::Real, quiet()).unwrap();
    assert!(obs.sim.mount.is_some() && obs.mount.is_some() && obs.weather.is_some());
    let reports = obs.status().await;
    assert_eq!(reports.len(), 7);
    assert!(reports.iter().all(|r| r.ok && r.state.is_some()), "{reports:?}");
}
