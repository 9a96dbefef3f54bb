//! WebAssembly bindings of the http-triage core, for the npm package `http-triage`.
//!
//! Thin on purpose: every function here converts values, maps errors and calls the core; no
//! decision is made here. The idiomatic JavaScript API (`classify`, `fetchWithRetry`, error
//! classes, …) is the hand-written `js/` layer over these exports.
//!
//! - [`classify`](classify/index.html): the hot path, through buffers in wasm memory (one
//!   crossing each way, no JSON, no string glue), and the other readers.
//! - `machines`: the retry policy and the state machines; options and snapshots cross as plain
//!   objects, read member by member by small readers ([`convert`](convert/index.html)).
//! - `ledger` (feature `ledger`, its own module `http-triage/ledger`): the ledger tools, the
//!   only part that writes JSON, kept out of the module a page loads.
//!
//! No export panics on any input (a panic is a trap under `panic = "abort"`): every value from
//! JavaScript is checked, and every failure becomes a JS `Error` with a stable `code` property
//! (`invalid_input`, `invalid_option`, `invalid_snapshot`, `unknown_name`,
//! `invalid_ledger_line`, `internal`).

pub mod classify;
pub mod convert;
#[cfg(feature = "ledger")]
mod jsde;
#[cfg(feature = "ledger")]
pub mod ledger;
pub mod machines;

use wasm_bindgen::prelude::*;

/// The allocator: talc, a maintained drop-in for Rust's default wasm allocator (dlmalloc).
/// Measured on the browser module: 2.7 KB smaller gzipped (98.2 -> 95.6 KB), and `classify` as
/// fast in Node (the wasm call alone 1.75-1.8 us either way).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The core's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
