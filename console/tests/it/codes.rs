//! The code inventory: generate, import (CSV and XLSX), export, look up, deactivate and
//! reactivate; who may; bad uploads write nothing.

use promoseal_db::{both, Backend};
use promoseal_signer::codeset::CodeSetFile;
use serde_json::json;

use crate::common::Console;

both!(generate_look_up_deactivate_export, imports_and_bad_uploads);

async fn generate_look_up_deactivate_export(backend: Backend) {
    let c = Console::start(backend).await;
    let keeper = c.signed_in("promotions-1").await;
    let g = keeper
        .post(
            "/api/codes/generate",
            json!({"set": "autumn", "prefix": "AUT-", "count": 50}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    assert!(g.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("autumn.csv"));
    assert_eq!(g.headers["cache-control"], "no-store");
    let codes: Vec<&str> = g.text.lines().skip(1).collect();
    assert_eq!(codes.len(), 50);
    assert!(codes.iter().all(|c| c.starts_with("AUT-")));
    // The folder keeps the campaign, never a code.
    let stored = std::fs::read_to_string(c.dir.join("codes/autumn.json")).unwrap();
    assert!(!codes.iter().any(|code| stored.contains(code)));
    // The same set again is refused.
    let again = keeper
        .post("/api/codes/generate", json!({"set": "autumn", "count": 5}))
        .await;
    assert_eq!(again.code(), "alreadyExists");

    let list = keeper.get("/api/codes").await.json();
    assert_eq!(list["sets"][0]["codes"], 50);
    assert_eq!(list["sets"][0]["kind"], "generated");

    // Look a code up, in another spelling; deactivate it; reactivate it.
    let code = codes[7];
    let lower = code.to_lowercase();
    let found = keeper
        .post("/api/codes/lookup", json!({"code": lower}))
        .await
        .json();
    assert_eq!(
        (found["set"].clone(), found["status"].clone()),
        (json!("autumn"), json!("active"))
    );
    // Named twice, it changes once; the log counts what changed.
    let off = keeper
        .post(
            "/api/codes/autumn/deactivate",
            json!({"codes": [code, lower, code]}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.json()["changed"], 1);
    let again = keeper
        .post("/api/codes/autumn/deactivate", json!({"codes": [code]}))
        .await;
    assert_eq!(again.json()["changed"], 0);
    // A code belongs to one set: imported into another, it is left out and counted.
    let csv = format!("code\n{lower}\nNEW-ONE\n");
    let imported = keeper
        .send_raw(
            "/api/codes/other/import?filename=x.csv",
            "application/octet-stream",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    assert_eq!(
        (
            imported.json()["added"].clone(),
            imported.json()["inOtherSets"].clone()
        ),
        (json!(1), json!([["autumn", 1]]))
    );
    let found = keeper
        .post("/api/codes/lookup", json!({"code": code}))
        .await
        .json();
    assert_eq!(found["status"], "deactivated");
    let set = CodeSetFile::load(&c.dir, "autumn").unwrap();
    assert_eq!(set.generated.unwrap().revoked.len(), 1);
    keeper
        .post("/api/codes/autumn/reactivate", json!({"codes": [code]}))
        .await;
    let found = keeper
        .post("/api/codes/lookup", json!({"code": code}))
        .await
        .json();
    assert_eq!(found["status"], "active");
    assert_eq!(
        keeper
            .post("/api/codes/lookup", json!({"code": "AUT-NOPE"}))
            .await
            .json()["found"],
        false
    );
    // Not a code of the set: refused, nothing changed.
    let bad = keeper
        .post("/api/codes/autumn/deactivate", json!({"codes": ["XYZ"]}))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    // The whole set only when asked for by name: no codes and no `wholeSet` (or both) is a 400,
    // and the set stays active.
    for body in [
        json!({}),
        json!({"codes": []}),
        json!({"codes": ["X"], "wholeSet": true}),
    ] {
        let r = keeper.post("/api/codes/autumn/deactivate", body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalidRequest"),
            "{}",
            r.text
        );
    }
    assert!(CodeSetFile::load(&c.dir, "autumn").unwrap().active);
    let whole = keeper
        .post("/api/codes/autumn/deactivate", json!({"wholeSet": true}))
        .await;
    assert_eq!(whole.status, 200, "{}", whole.text);
    let off = CodeSetFile::load(&c.dir, "autumn").unwrap();
    assert!(!off.active);
    // The summary says the whole set is off, not "0 revoked".
    assert!(
        off.summary()
            .ends_with("the whole set is deactivated: none of its codes is accepted"),
        "{}",
        off.summary()
    );
    keeper
        .post("/api/codes/autumn/reactivate", json!({"wholeSet": true}))
        .await;
    assert!(CodeSetFile::load(&c.dir, "autumn").unwrap().active);

    // The export gives every code with its status.
    let export = keeper.get("/api/codes/autumn/export").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.text.lines().count(), 51);
    assert!(export.text.starts_with("code,serial,status\n"));

    // Marketing does not keep the inventory; the log names no code.
    let marketing = c.signed_in("marketing-1").await;
    assert_eq!(
        marketing
            .post("/api/codes/generate", json!({"set": "x", "count": 1}))
            .await
            .code(),
        "forbidden"
    );
    assert_eq!(
        marketing
            .post("/api/codes/lookup", json!({"code": code}))
            .await
            .status,
        403
    );
    let log = keeper.get("/api/audit?format=jsonl").await.text;
    assert!(!codes.iter().any(|code| log.contains(code)), "{log}");
    assert!(log.contains("codesGenerated") && log.contains("codesDeactivated"));
    c.stop().await;
}

async fn imports_and_bad_uploads(backend: Backend) {
    let c = Console::start(backend).await;
    let keeper = c.signed_in("promotions-1").await;
    let csv = b"Customer;Coupon Code\nada;VIP-ONE\nbob;vip-one\ncy;VIP-TWO\n;\n".to_vec();
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=list.csv",
            "application/octet-stream",
            csv,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["read"].clone(),
            v["added"].clone(),
            v["duplicates"].clone()
        ),
        (json!(2), json!(2), json!(1))
    );

    // A spreadsheet, with the code column named by the header.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.write_string(0, 0, "Voucher").unwrap();
    sheet.write_string(1, 0, "VIP-THREE").unwrap();
    sheet.write_string(2, 0, "VIP-ONE").unwrap();
    let xlsx = wb.save_to_buffer().unwrap();
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=more.xlsx",
            "application/octet-stream",
            xlsx,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["added"].clone()),
        (200, json!(1)),
        "{}",
        r.text
    );
    let found = keeper
        .post("/api/codes/lookup", json!({"code": "vip-three"}))
        .await
        .json();
    assert_eq!(
        (found["set"].clone(), found["status"].clone()),
        (json!("vip"), json!("active"))
    );
    let stored = std::fs::read_to_string(c.dir.join("codes/vip.json")).unwrap();
    assert!(!stored.contains("VIP-"), "{stored}");

    // Bad uploads: a type the reader does not know, a file with no codes, a broken
    // spreadsheet, one too large. Each says what is wrong and writes nothing.
    let before = std::fs::read(c.dir.join("codes/vip.json")).unwrap();
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=list.pdf",
            "application/octet-stream",
            b"%PDF".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("unsupported file type"), "{}", r.text);
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=empty.csv",
            "application/octet-stream",
            b"code\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=broken.xlsx",
            "application/octet-stream",
            b"PK not a zip".to_vec(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("broken.xlsx") && !r.text.contains("promoseal-console-upload"),
        "{}",
        r.text
    );
    let r = keeper
        .send_raw(
            "/api/codes/vip/import?filename=big.csv",
            "application/octet-stream",
            vec![b'A'; 11 * 1024 * 1024],
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(std::fs::read(c.dir.join("codes/vip.json")).unwrap(), before);
    // A generated campaign takes no imported codes.
    keeper
        .post("/api/codes/generate", json!({"set": "gen", "count": 3}))
        .await;
    let r = keeper
        .send_raw(
            "/api/codes/gen/import?filename=a.csv",
            "application/octet-stream",
            b"code\nX1\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // No upload leaves a temporary file behind.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("promoseal-console-upload")
        })
        .count();
    assert_eq!(leftovers, 0);
    c.stop().await;
}
