//! Random weather for the fault campaign.

/// A random PLC scenario in the seeds' format: one or two rains and perhaps
/// a PLC silence over the night's 100 iterations.
pub fn random_scenario(seed: u64) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut items = vec!["100".to_owned()];
    for _ in 0..1 + next(2) {
        let start = 5 + next(80);
        let end = start + 3 + next(15);
        for dev in ["WXT520", "VantagePro"] {
            items.push(format!(
                r#"{{"time": {start}, "plcSimulator": {{"device_name": "{dev}", "value_name": "RainRate", "value": 8.0}}}}"#
            ));
            items.push(format!(
                r#"{{"time": {end}, "plcSimulator": {{"device_name": "{dev}", "value_name": "RainRate", "value": 0.0}}}}"#
            ));
        }
    }
    if next(2) == 0 {
        let start = 10 + next(80);
        items.push(format!(r#"{{"time": {start}, "plcSimulator": {{"silent": true}}}}"#));
        items.push(format!(r#"{{"time": {}, "plcSimulator": {{"silent": false}}}}"#, start + 1 + next(4)));
    }
    format!("[{}]", items.join(",\n"))
}
