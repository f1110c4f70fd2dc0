//! Register import benchmark: a file of many persons, some rows bad, imported over HTTP.
//!
//! `cargo build --release --bins && target/release/yishi-register --persons 100000`
//! (add `--postgres postgres://postgres@127.0.0.1:5432/postgres` to run on PostgreSQL).
//!
//! Seeds a community with units straight into a fresh database, starts `yishi serve`, writes a
//! register file (2.5 persons a unit, the first of each unit its owner with a property
//! certificate; every `--bad-every`th row carries a document number whose check character is
//! wrong), posts it to `POST /communities/{id}/register/import`, checks that exactly the bad
//! rows are reported, by line, and prints the time the import took and the server's memory
//! (resident before, peak after). Then imports the same file again (nothing may change) and
//! prints that time too.

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;
use yishi::entities::{building, unit};

#[derive(Parser)]
#[command(about = "Import a large register file and measure it")]
struct Args {
    /// Persons in the file.
    #[arg(long, default_value_t = 100_000)]
    persons: usize,
    /// Every n-th row is bad (100: 1%).
    #[arg(long, default_value_t = 100)]
    bad_every: usize,
    /// Run on a fresh database on this PostgreSQL server instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

/// A resident identity card number with a right (or, when `bad`, a wrong) check character.
fn resident_id(n: usize, bad: bool) -> String {
    let first17 = format!("3101011960{n:07}");
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let checks = b"10X98765432";
    let i = (sum % 11) as usize;
    let check = checks[if bad { (i + 1) % 11 } else { i }] as char;
    format!("{first17}{check}")
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (dir, db_url, db) = common::scratch("register", args.postgres.as_deref()).await;
    let (community, committee, _) = common::seed_community(&db, 0).await;
    let units_n = args.persons.div_ceil(5) * 2;
    let per_building = 400;
    let now = yishi::clock::now();
    let mut labels = Vec::with_capacity(units_n);
    for b in 0..units_n.div_ceil(per_building) {
        let building_id = Uuid::new_v4();
        let name = format!("{}号楼", b + 1);
        building::Entity::insert(building::ActiveModel {
            id: Set(building_id),
            community_id: Set(community),
            name: Set(name.clone()),
            grid_id: Set(None),
            created_at: Set(now),
        })
        .exec(&db.conn)
        .await
        .unwrap();
        let count = per_building.min(units_n - b * per_building);
        let rows: Vec<_> = (0..count)
            .map(|i| {
                let number = format!("{}{:02}", i / 4 + 1, i % 4 + 1);
                labels.push((name.clone(), number.clone()));
                unit::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    building_id: Set(building_id),
                    community_id: Set(community),
                    number: Set(number),
                    area_centi: Set(8_000 + (i as i64 % 50) * 100),
                    registered_owner: Set(None),
                    developer_held: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
            })
            .collect();
        for chunk in rows.chunks(500) {
            unit::Entity::insert_many(chunk.to_vec())
                .exec(&db.conn)
                .await
                .unwrap();
        }
    }
    let mut csv = String::from(
        "name,document_kind,document_number,birth_date,adult,phone,status,building,number,owner,certificate\n",
    );
    let mut bad_lines = Vec::new();
    for i in 0..args.persons {
        let line = i + 2;
        let bad = args.bad_every > 0 && (i + 1) % args.bad_every == 0;
        if bad {
            bad_lines.push(line as u64);
        }
        let (b, n) = &labels[i * 2 / 5];
        let owner = (i * 2) % 5 < 2;
        let certificate = if owner {
            format!("沪(2020)字第{i:08}号")
        } else {
            String::new()
        };
        let birth = format!("19{:02}-{:02}-{:02}", 30 + i % 70, 1 + i % 12, 1 + i % 28);
        let owns = if owner { "是" } else { "否" };
        csv.push_str(&format!(
            "居民{i},居民身份证,{},{birth},,,常住,{b},{n},{owns},{certificate}\n",
            resident_id(i, bad),
        ));
    }
    let (mut server, base) = common::start_server(&db_url, &dir, &[]).await;
    let pid = server.id().unwrap_or(0);
    common::memory_settled(pid, Duration::from_secs(10)).await;
    let (before_kib, _) = common::rss_kib(pid);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let url = format!("{base}/api/v1/communities/{community}/register/import");
    let send = |body: String| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(body.into_bytes()).file_name("register.csv"),
        );
        http.post(&url)
            .bearer_auth(&committee)
            .multipart(form)
            .send()
    };
    eprintln!(
        "importing {} persons ({} bad rows, {:.1} MB) into {} units…",
        args.persons,
        bad_lines.len(),
        csv.len() as f64 / 1e6,
        units_n
    );
    let started = Instant::now();
    let r = send(csv.clone()).await.unwrap();
    let status = r.status();
    let report: serde_json::Value = r.json().await.unwrap();
    let first = started.elapsed().as_secs_f64();
    assert_eq!(status, 200, "{report}");
    let (_, peak_kib) = common::rss_kib(pid);
    let reported: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    let good = args.persons - bad_lines.len();
    let ok = reported == bad_lines && report["persons_created"] == good;
    let started = Instant::now();
    let again: serde_json::Value = send(csv).await.unwrap().json().await.unwrap();
    let second = started.elapsed().as_secs_f64();
    let unchanged = again["persons_created"] == 0
        && again["persons_updated"] == 0
        && again["persons_unchanged"] == good;
    let backend = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "register import on {backend}: {} persons, {} bad rows, {} units",
        args.persons,
        bad_lines.len(),
        units_n
    );
    println!(
        "  first import {first:.2} s ({:.0} rows/s): created {} persons, {} households, {} owners; {} bad rows reported by line: {}",
        args.persons as f64 / first,
        report["persons_created"],
        report["households_created"],
        report["owners_created"],
        reported.len(),
        if ok { "as expected" } else { "NOT as expected" }
    );
    println!(
        "  the same file again {second:.2} s: {}",
        if unchanged {
            "nothing changed"
        } else {
            "CHANGES (not expected)"
        }
    );
    println!(
        "  server memory: {:.1} MiB before, peak {:.1} MiB",
        before_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
    let _ = server.kill().await;
    common::discard(&dir, args.postgres.as_deref(), &db_url).await;
    if !ok || !unchanged {
        std::process::exit(1);
    }
}
