//! vfex's own DPDK telemetry commands (`/vfex/...`), read with
//! `dpdk-telemetry.py` like DPDK's `/ethdev/...` ones.
//!
//! DPDK calls a command's callback on its telemetry thread with no user
//! pointer, so one `extern "C"` trampoline serves every command and finds the
//! Rust closure by the command's name in a registry. A closure returns a
//! [`TelValue`]; the trampoline writes it into DPDK's `rte_tel_data`. DPDK
//! cannot unregister a command: [`unregister`] removes the closure, and the
//! command then answers with an error (what a client sees for a command
//! with no data).
//!
//! DPDK 22.11's limits, checked here rather than left to fail silently:
//! names of dict entries are letters, digits, `_` and `/` (others become
//! `_`); strings are cut to 127 bytes; a dict or array holds at most 256 /
//! 512 entries (the rest is left out and `truncated` is set); a container
//! nested in the top-level value may hold only scalars (deeper values are
//! written as their JSON text).

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use dpdk_sys::rte_tel_data;

use super::{Eal, Error};

/// A value a telemetry command returns.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    /// Unsigned counter.
    U64(u64),
    /// Signed value (32-bit in DPDK 22.11; larger values are clamped).
    Int(i64),
    /// Text (cut to 127 bytes).
    Str(String),
    /// A list.
    Array(Vec<TelValue>),
    /// Named values, in this order.
    Dict(Vec<(String, TelValue)>),
}

impl TelValue {
    /// A dict from `(name, value)` pairs.
    pub fn dict<S: Into<String>>(entries: impl IntoIterator<Item = (S, TelValue)>) -> TelValue {
        TelValue::Dict(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value as JSON text (for values nested deeper than DPDK allows,
    /// and for tests).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }

    fn write_json(&self, s: &mut String) {
        match self {
            TelValue::U64(v) => {
                let _ = write!(s, "{v}");
            }
            TelValue::Int(v) => {
                let _ = write!(s, "{v}");
            }
            TelValue::Str(v) => {
                s.push('"');
                for c in v.chars() {
                    match c {
                        '"' => s.push_str("\\\""),
                        '\\' => s.push_str("\\\\"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(s, "\\u{:04x}", c as u32);
                        }
                        c => s.push(c),
                    }
                }
                s.push('"');
            }
            TelValue::Array(a) => {
                s.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    v.write_json(s);
                }
                s.push(']');
            }
            TelValue::Dict(d) => {
                s.push('{');
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    TelValue::Str(k.clone()).write_json(s);
                    s.push(':');
                    v.write_json(s);
                }
                s.push('}');
            }
        }
    }
}

/// A command's closure: gets the parameters after the command (if any).
type Handler = Arc<dyn Fn(Option<&str>) -> TelValue + Send + Sync>;

fn registry() -> &'static RwLock<HashMap<String, Handler>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Handler>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Whether `cmd` is a name DPDK accepts: starts with `/`, then letters,
/// digits, `_` and `/`, at most 56 bytes.
fn valid_command(cmd: &str) -> bool {
    cmd.len() <= 56
        && cmd.starts_with('/')
        && cmd[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
}

/// Registers `cmd` (e.g. `/vfex/veth`) with `help`; `f` answers it on
/// DPDK's telemetry thread. Registering the same command again replaces
/// its closure (DPDK keeps its first registration, which calls the
/// registry).
pub fn register(
    _eal: &Eal,
    cmd: &str,
    help: &str,
    f: impl Fn(Option<&str>) -> TelValue + Send + Sync + 'static,
) -> Result<(), Error> {
    if !valid_command(cmd) {
        return Err(Error::InvalidArgument(format!(
            "telemetry command {cmd:?}: must start with '/' and hold only letters, digits, '_' and '/' (at most 56 bytes)"
        )));
    }
    let help_c = CString::new(help.replace('\0', " "))
        .map_err(|_| Error::InvalidArgument("telemetry help text".into()))?;
    let cmd_c = CString::new(cmd).map_err(|_| Error::InvalidArgument(cmd.into()))?;
    let known = {
        let mut reg = registry().write().unwrap_or_else(|e| e.into_inner());
        reg.insert(cmd.to_string(), Arc::new(f)).is_some()
    };
    if known {
        return Ok(());
    }
    // SAFETY: both strings are valid NUL-terminated C strings that DPDK
    // copies; the callback is a plain function valid for the whole run.
    let ret = unsafe {
        dpdk_sys::rte_telemetry_register_cmd(cmd_c.as_ptr(), Some(trampoline), help_c.as_ptr())
    };
    if ret < 0 {
        registry()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(cmd);
        return Err(Error::Dpdk {
            op: format!("rte_telemetry_register_cmd({cmd})"),
            errno: -ret,
            msg: super::strerror(-ret),
        });
    }
    Ok(())
}

/// Removes the closure of `cmd`: DPDK cannot forget a command, so it then
/// answers with an error. Call before what the closure reads goes away.
pub fn unregister(cmd: &str) {
    registry()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(cmd);
}

/// The one callback DPDK calls for every vfex command.
extern "C" fn trampoline(
    cmd: *const c_char,
    params: *const c_char,
    info: *mut rte_tel_data,
) -> c_int {
    if cmd.is_null() || info.is_null() {
        return -1;
    }
    // SAFETY: DPDK passes NUL-terminated strings valid for this call.
    let cmd = unsafe { CStr::from_ptr(cmd) }.to_string_lossy();
    let params = if params.is_null() {
        None
    } else {
        // SAFETY: as above.
        let p = unsafe { CStr::from_ptr(params) };
        Some(p.to_string_lossy().into_owned()).filter(|p| !p.is_empty())
    };
    let handler = registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(cmd.as_ref())
        .cloned();
    let Some(handler) = handler else {
        return -1;
    };
    // A panic must not unwind into C.
    let value =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(params.as_deref())))
        {
            Ok(v) => v,
            Err(_) => return -1,
        };
    // SAFETY: `info` is the data structure DPDK handed to this callback.
    unsafe { write_top(info, &value) }
}

/// A C string for DPDK: NULs removed, cut to `max - 1` bytes on a char
/// boundary.
fn c_text(s: &str, max: usize) -> CString {
    let mut end = s.len().min(max - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    CString::new(s[..end].replace('\0', "")).unwrap_or_default()
}

/// A dict entry name as DPDK accepts it.
fn c_name(s: &str) -> CString {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '/' {
                c
            } else {
                '_'
            }
        })
        .collect();
    c_text(&clean, 64)
}

const MAX_STR: usize = 128;
const MAX_DICT: usize = 256;
const MAX_ARRAY: usize = 512;

/// Writes the top-level value.
///
/// # Safety
/// `d` is a valid `rte_tel_data` that DPDK handed to the callback.
unsafe fn write_top(d: *mut rte_tel_data, v: &TelValue) -> c_int {
    // SAFETY: `d` is valid (the caller's contract).
    unsafe {
        match v {
            TelValue::Dict(entries) => {
                dpdk_sys::rte_tel_data_start_dict(d);
                for (k, v) in entries.iter().take(MAX_DICT) {
                    let name = c_name(k);
                    match v {
                        TelValue::Array(_) | TelValue::Dict(_) => {
                            let c = dpdk_sys::rte_tel_data_alloc();
                            if c.is_null() {
                                continue;
                            }
                            if write_nested(c, v) {
                                if dpdk_sys::rte_tel_data_add_dict_container(d, name.as_ptr(), c, 0)
                                    < 0
                                {
                                    dpdk_sys::rte_tel_data_free(c);
                                }
                            } else {
                                dpdk_sys::rte_tel_data_free(c);
                                let s = c_text(&v.to_json(), MAX_STR);
                                dpdk_sys::rte_tel_data_add_dict_string(
                                    d,
                                    name.as_ptr(),
                                    s.as_ptr(),
                                );
                            }
                        }
                        scalar => add_dict_scalar(d, &name, scalar),
                    }
                }
                if entries.len() > MAX_DICT {
                    let t = c_name("truncated");
                    dpdk_sys::rte_tel_data_add_dict_int(d, t.as_ptr(), 1);
                }
                0
            }
            TelValue::Array(items) => {
                if !write_nested(d, v) {
                    // Mixed or nested items: one string per item.
                    dpdk_sys::rte_tel_data_start_array(d, dpdk_sys::RTE_TEL_STRING_VAL);
                    for i in items.iter().take(MAX_ARRAY) {
                        let s = c_text(&i.to_json(), MAX_STR);
                        dpdk_sys::rte_tel_data_add_array_string(d, s.as_ptr());
                    }
                }
                0
            }
            TelValue::Str(s) => {
                let s = c_text(s, 8192);
                dpdk_sys::rte_tel_data_string(d, s.as_ptr());
                0
            }
            TelValue::U64(_) | TelValue::Int(_) => {
                // A bare number: DPDK has no scalar reply, so a one-entry dict.
                dpdk_sys::rte_tel_data_start_dict(d);
                add_dict_scalar(d, &c_name("value"), v);
                0
            }
        }
    }
}

/// Adds a scalar to a dict.
///
/// # Safety
/// `d` is a valid `rte_tel_data` started as a dict.
unsafe fn add_dict_scalar(d: *mut rte_tel_data, name: &CStr, v: &TelValue) {
    // SAFETY: `d` is valid (the caller's contract); strings are valid C
    // strings that DPDK copies.
    unsafe {
        match v {
            TelValue::U64(x) => {
                dpdk_sys::rte_tel_data_add_dict_u64(d, name.as_ptr(), *x);
            }
            TelValue::Int(x) => {
                let x = (*x).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                dpdk_sys::rte_tel_data_add_dict_int(d, name.as_ptr(), x);
            }
            TelValue::Str(s) => {
                let s = c_text(s, MAX_STR);
                dpdk_sys::rte_tel_data_add_dict_string(d, name.as_ptr(), s.as_ptr());
            }
            other => {
                let s = c_text(&other.to_json(), MAX_STR);
                dpdk_sys::rte_tel_data_add_dict_string(d, name.as_ptr(), s.as_ptr());
            }
        }
    }
}

/// Writes a container DPDK 22.11 can nest: an array of one scalar type
/// (u64, int or string). `false` (nothing written) for anything else.
///
/// # Safety
/// `d` is a valid, fresh `rte_tel_data`.
unsafe fn write_nested(d: *mut rte_tel_data, v: &TelValue) -> bool {
    let TelValue::Array(items) = v else {
        return false;
    };
    let kind = if items.iter().all(|i| matches!(i, TelValue::U64(_))) {
        dpdk_sys::RTE_TEL_U64_VAL
    } else if items.iter().all(|i| matches!(i, TelValue::Int(_))) {
        dpdk_sys::RTE_TEL_INT_VAL
    } else if items.iter().all(|i| matches!(i, TelValue::Str(_))) {
        dpdk_sys::RTE_TEL_STRING_VAL
    } else {
        return false;
    };
    // SAFETY: `d` is valid (the caller's contract); strings are copied.
    unsafe {
        dpdk_sys::rte_tel_data_start_array(d, kind);
        for i in items.iter().take(MAX_ARRAY) {
            match i {
                TelValue::U64(x) => {
                    dpdk_sys::rte_tel_data_add_array_u64(d, *x);
                }
                TelValue::Int(x) => {
                    let x = (*x).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                    dpdk_sys::rte_tel_data_add_array_int(d, x);
                }
                TelValue::Str(s) => {
                    let s = c_text(s, MAX_STR);
                    dpdk_sys::rte_tel_data_add_array_string(d, s.as_ptr());
                }
                _ => {}
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_json() {
        assert!(valid_command("/vfex/veth"));
        assert!(!valid_command("vfex"));
        assert!(!valid_command("/vfex/bad-name"));
        assert_eq!(c_name("rx bytes-1").to_str().unwrap(), "rx_bytes_1");
        assert_eq!(c_text(&"é".repeat(100), MAX_STR).as_bytes().len(), 126);
        let v = TelValue::dict([
            ("a", TelValue::U64(1)),
            ("b", TelValue::Array(vec![TelValue::Str("x\"".into())])),
        ]);
        assert_eq!(v.to_json(), r#"{"a":1,"b":["x\""]}"#);
    }
}
