//! KV operations per request for the benchmark's workloads, counted over the same core the worker
//! runs (the shell maps each `Kv` call to one KV operation; a bulk get of up to 100 keys is one).
//! Prints JSON: `{"deliveries": {"<workload>": {"reads": r, "writes": w, "lists": l, ...}}`, and under
//! `"one number, many people"` the requests a business number's own object gets per inbound
//! message when 500 people write to it (1,000 messages over 100 s, each reply sent when due).

use serde_json::json;
use wa_edge::testing::World;
use wa_edge::webhook::signature::sign;

const NOW: u64 = 1_732_000_000;

fn envelope(value: serde_json::Value) -> serde_json::Value {
    json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":value}]}]})
}

fn text(from: &str, id: &str, body: &str) -> serde_json::Value {
    json!({"from":from,"id":id,"timestamp":NOW.to_string(),"type":"text","text":{"body":body}})
}

fn messages(from: &str, list: Vec<serde_json::Value>) -> serde_json::Value {
    envelope(
        json!({"metadata":{"phone_number_id":"PNID"},"contacts":[{"profile":{"name":"B"},"wa_id":from}],"messages":list}),
    )
}

fn main() {
    let world = World::new(&[("DEFAULT_REPLY", "Thanks, a person will answer soon.")]);
    let deliver = |body: &serde_json::Value, signature: Option<String>| {
        let body = body.to_string();
        let mut req = wa_edge::testing::signed_delivery(&body);
        if signature.is_some() {
            req.signature = signature;
        }
        world.kv.reset_ops();
        world.authority_calls.set(0);
        let stores: Vec<_> = world.stores.borrow().values().cloned().collect();
        stores.iter().for_each(|s| s.reset_ops());
        let reply = world.request(req, NOW + 1);
        assert!(reply.status < 500, "{}", reply.body);
        let ops = world.kv.ops();
        // Durable Object storage operations, summed over the objects this delivery reached
        // (each reads through its mirror, as in the worker: a warm object reads nothing), and
        // the requests made to objects (a person's, and from it each number's).
        let stores: Vec<_> = world.stores.borrow().values().cloned().collect();
        let ops_of: Vec<_> = stores.iter().map(|s| s.ops()).collect();
        let do_reads: u32 = ops_of.iter().map(|o| o.reads + o.lists).sum();
        let do_writes: u32 = ops_of.iter().map(|o| o.writes + o.deletes).sum();
        json!({"reads": ops.reads, "writes": ops.writes, "lists": ops.lists,
               "do_requests": world.authority_calls.get(), "do_reads": do_reads, "do_writes": do_writes})
    };
    let statuses: Vec<_> = (0..50)
        .zip(["sent", "delivered", "read"].iter().cycle())
        .map(|(i, status)| json!({"id":format!("wamid.S{i}"),"status":status,"timestamp":NOW.to_string(),"recipient_id":format!("1555000{i:04}")}))
        .collect();
    let change = |e: u32| json!({"field":"messages","value":{"metadata":{"phone_number_id":"PNID"},"messages":(0..3).map(|i| text("15550000777", &format!("wamid.BA{e}{i}"), "batched")).collect::<Vec<_>>()}});
    deliver(
        &messages(
            "15550000001",
            vec![text("15550000001", "wamid.warm", "first")],
        ),
        None,
    );
    let out = json!({
        "text, new contact": deliver(&messages("15550000002", vec![text("15550000002", "wamid.N1", "hello")]), None),
        "text, known contact": deliver(&messages("15550000001", vec![text("15550000001", "wamid.K1", "again")]), None),
        "STOP": deliver(&messages("15550000003", vec![text("15550000003", "wamid.T1", "STOP")]), None),
        "status batch of 50": deliver(&envelope(json!({"metadata":{"phone_number_id":"PNID"},"statuses":statuses})), None),
        "2 entries x 3 messages": deliver(&json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[change(0)]},{"id":"W","changes":[change(1)]}]}), None),
        "bad signature": deliver(&messages("15550000004", vec![text("15550000004", "wamid.F1", "forged")]), Some(sign(b"other", b"x"))),
        "1 MB payload": deliver(&messages("15550000005", vec![text("15550000005", "wamid.M1", &"x".repeat(1 << 20))]), None),
        "3 MB payload": deliver(&messages("15550000006", vec![text("15550000006", "wamid.M3", &"x".repeat(3 * (1 << 20) - 4096))]), None),
    });
    let out = json!({"deliveries": out, "one number, many people": one_number_many_people()});
    println!("{out}");
}

fn one_number_many_people() -> serde_json::Value {
    let world = World::new(&[("DEFAULT_REPLY", "Thanks, a person will answer soon.")]);
    let inbound = 1_000u32;
    for n in 0..inbound {
        let at = NOW + u64::from(n / 10);
        let from = format!("1556{:07}", n % 500);
        let body = messages(&from, vec![text(&from, &format!("wamid.ONE{n}"), "hello")]);
        let reply = world.request(wa_edge::testing::signed_delivery(&body.to_string()), at);
        assert!(reply.status < 500, "{}", reply.body);
        if n % 10 == 9 {
            world.send_due(at + 1);
        }
    }
    let calls = world.number_calls.get();
    json!({"inbound": inbound, "number_requests": calls,
           "number_requests_per_message": f64::from(calls) / f64::from(inbound)})
}
