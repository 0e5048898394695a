//! What the core alone costs per request, natively: a known contact's text through the same
//! decisions the worker makes (the native world: in-memory KV and storage, a fake Graph API), with
//! 300 requests first. `N=<requests>` (default 3000). Context for the benchmark, not a comparison:
//! it tells the core's share of the worker's CPU (README "Benchmark").

use serde_json::json;
use wa_edge::testing::World;

const NOW: u64 = 1_732_000_000;

fn main() {
    // As the benchmark runs the worker: a default reply, no read receipts (sends leave from the
    // alarm, which this loop does not run).
    let world = World::new(&[
        ("DEFAULT_REPLY", "Thanks, a person will answer soon."),
        ("MARK_AS_READ", "false"),
    ]);
    let body = |i: u32| {
        json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"PNID"},"contacts":[{"profile":{"name":"B"},"wa_id":"15550000001"}],
            "messages":[{"from":"15550000001","id":format!("wamid.K{i}"),"timestamp":NOW.to_string(),"type":"text","text":{"body":"hello, a question"}}]}}]}]})
        .to_string()
    };
    let deliver = |b: &str| {
        let reply = world.request(wa_edge::testing::signed_delivery(b), NOW + 1);
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for i in 0..300 {
        deliver(&body(i));
    }
    let bodies: Vec<String> = (300..300 + n).map(body).collect();
    let started = std::time::Instant::now();
    for b in &bodies {
        deliver(b);
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("a known contact's text, natively: {per:.1} µs per request over {n} requests");
}
