//! What the fuzz targets share: which panics count as crashes.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static CAUGHT: Cell<bool> = const { Cell::new(false) };
}

/// libFuzzer's hook aborts on every panic, even one the code under test catches. Keep
/// that, except inside [`decoding`] and [`applying`].
pub fn init() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !CAUGHT.get() {
            abort(info);
        }
    }));
}

/// Runs `tandem_protocol::decode` (or what calls it) on client bytes. `decode_update`
/// catches panics from yrs' update decoder by design (debug-build overflow checks in yrs'
/// varint and clock arithmetic; release builds wrap instead and get a wrong number), so a
/// panic it catches is not a crash; one that escapes still is.
pub fn decoding<T>(decode: impl FnOnce() -> T) -> T {
    CAUGHT.set(true);
    let result = catch_unwind(AssertUnwindSafe(decode));
    CAUGHT.set(false);
    match result {
        Ok(value) => value,
        Err(panic) => {
            let message = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
            eprintln!("a panic escaped the decoder: {}", message.unwrap_or("(no message)"));
            std::process::abort()
        }
    }
}

/// Runs what the room runs under `catch_unwind` (src/realtime/room/apply.rs): there a yrs panic
/// costs its sender the connection and the room a rebuild from its log, so it is not a
/// crash here either; `None` if it panicked. A panic while unwinding still aborts.
#[allow(dead_code)] // only room_apply applies
pub fn applying<T>(apply: impl FnOnce() -> T) -> Option<T> {
    CAUGHT.set(true);
    let result = catch_unwind(AssertUnwindSafe(apply));
    CAUGHT.set(false);
    result.ok()
}
