//! The control thread.
//!
//! An ordinary `std::thread`, pinned with `core_affinity` to the
//! housekeeping core (never a worker core: [`spawn`] refuses one). It owns
//! the [`Config`], the SR-IOV state and the current [`Compiled`] set, takes
//! [`Command`]s over a crossbeam channel and answers each one with a
//! [`Response`].
//!
//! Every change follows one path ([`Control::commit`]): build the new
//! configuration on a copy, validate the whole of it, apply what the
//! hardware must change (SR-IOV, VF settings; undone on failure), compile a
//! complete new table set, and hand it to the [`TablePublisher`] in one
//! step. Only when all of that succeeded does the new configuration replace
//! the old one: a rejected change leaves the old configuration, the old
//! hardware state and the old tables in place.
//!
//! How the binary starts it (here against the fake kernel; a real run uses
//! [`Hardware::system`] and a publisher over the dataplane's RCU handle):
//!
//! ```
//! use std::sync::Arc;
//! use vfex_control::compile::Compiled;
//! use vfex_control::control::*;
//! use vfex_control::testkit::{FakeKernel, FakeNetlink};
//!
//! struct Print;
//! impl TablePublisher for Print {
//!     fn publish(&mut self, t: &Arc<Compiled>) -> Result<(), PublishError> {
//!         println!("generation {}: {} vEths", t.generation, t.veths.len());
//!         Ok(())
//!     }
//! }
//!
//! let text = r#"
//! role = "vepa-station"
//! encap = "none"
//! [ports.up]
//! kind = "uplink"
//! devargs = "net_tap0"
//! [ports.vm1]
//! kind = "downlink"
//! devargs = "net_tap1"
//! [veths.vm1]
//! port = "vm1"
//! "#;
//! let config = vfex_control::config::parse("vfex.toml", text).unwrap();
//! let hw = Hardware {
//!     sysfs: Box::new(FakeKernel::new().unwrap()),
//!     netlink: Box::new(FakeNetlink::new()),
//!     vf_wait: std::time::Duration::from_secs(1),
//! };
//! // The housekeeping core (here the first one we may use); worker cores are refused.
//! let core = core_affinity::get_core_ids().unwrap()[0].id;
//! let control = spawn(core, &[], ControlOptions::default(), move || {
//!     Control::new(config, Box::new(Print), hw)
//! })
//! .unwrap();
//! match control.call(Command::VethDel { name: "vm1".into() }) {
//!     Response::Ok(summary) => assert!(summary.starts_with("published generation 2")),
//!     other => panic!("{other:?}"),
//! }
//! control.shutdown();
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::compile::{Compiled, VfMap, compile};
use crate::model::*;
use crate::netlink::{self, Change, VfNetlink};
use crate::sriov::{self, PfChange, Sysfs};

/// Why a publication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publishing the tables failed: {0}")]
pub struct PublishError(pub String);

/// Hands compiled table sets to the dataplane.
///
/// Contract: `publish` makes `compiled` the set every worker reads, in one
/// step (one atomic pointer swap: a burst sees the old or the new set,
/// never a mix), and frees the previous set only after every worker has
/// passed a quiescent state. It either succeeds wholly or fails leaving the
/// previous set in place. `compiled.generation` increases by one with each
/// successful call. The control thread is the only caller.
pub trait TablePublisher: Send {
    /// Publishes one complete table set.
    fn publish(&mut self, compiled: &Arc<Compiled>) -> Result<(), PublishError>;
}

/// The kernel interfaces the control thread uses (real or fake).
pub struct Hardware {
    /// sysfs (SR-IOV).
    pub sysfs: Box<dyn Sysfs>,
    /// rtnetlink (VF settings).
    pub netlink: Box<dyn VfNetlink>,
    /// How long to wait for new VFs to appear.
    pub vf_wait: Duration,
}

impl Hardware {
    /// The real kernel: `/sys` and a route netlink socket in this network namespace.
    pub fn system() -> Result<Hardware, netlink::NlError> {
        Ok(Hardware {
            sysfs: Box::new(sriov::RealSysfs::system()),
            netlink: Box::new(netlink::RtNetlink::open()?),
            vf_wait: sriov::VF_WAIT,
        })
    }
}

/// A command to the control thread.
#[derive(Debug, Clone)]
pub enum Command {
    /// The running configuration, in the file format.
    ShowConfig,
    /// The table set now published.
    ShowTables,
    /// A short status: generation, sizes, VFs, last reconcile.
    Status,
    /// Adds a vEth.
    VethAdd {
        /// Name.
        name: String,
        /// The vEth.
        veth: Veth,
    },
    /// Deletes a vEth (and its VIF-list memberships).
    VethDel {
        /// Name.
        name: String,
    },
    /// Changes a vEth: `profile` (if given) replaces its profile; every field
    /// set in `rules` overrides the vEth's own.
    VethSet {
        /// Name.
        name: String,
        /// New profile (`Some("")` removes it).
        profile: Option<String>,
        /// Fields to override.
        rules: RuleSet,
    },
    /// Adds a port profile.
    ProfileAdd {
        /// Name.
        name: String,
        /// Its rules.
        rules: RuleSet,
    },
    /// Changes a profile: every field set in `rules` replaces the profile's.
    ProfileSet {
        /// Name.
        name: String,
        /// Fields to change.
        rules: RuleSet,
    },
    /// Deletes a profile (refused while a vEth inherits it).
    ProfileDel {
        /// Name.
        name: String,
    },
    /// Enables `num_vfs` VFs on `pf` (adds the PF to the SR-IOV section if needed).
    VfCreate {
        /// PF.
        pf: PciAddr,
        /// VF count.
        num_vfs: u16,
    },
    /// Destroys every VF of `pf` (refused while a port uses one).
    VfDestroy {
        /// PF.
        pf: PciAddr,
    },
    /// Changes one VF's settings: fields set in `vf` replace the configured ones.
    VfSet {
        /// PF.
        pf: PciAddr,
        /// VF index and the settings to change.
        vf: VfConfig,
    },
    /// Re-applies every VF setting that drifted.
    Reconcile,
    /// Loads a configuration file: validates all of it, then applies it as a whole.
    LoadConfig {
        /// File.
        path: PathBuf,
    },
    /// Loads configuration text (`name` is used in error positions).
    LoadConfigText {
        /// Name for error messages.
        name: String,
        /// TOML text.
        text: String,
    },
    /// Saves the running configuration to a file (atomically: temp file + rename).
    SaveConfig {
        /// File.
        path: PathBuf,
    },
    /// Stops the control thread.
    Shutdown,
}

/// The answer to a [`Command`].
#[derive(Debug, Clone)]
pub enum Response {
    /// Done; a one-line summary.
    Ok(String),
    /// Text asked for (the configuration).
    Text(String),
    /// The table set asked for.
    Tables(Arc<Compiled>),
    /// Refused or failed; nothing changed. The message says what and why
    /// (for a configuration file: every error with file:line:column).
    Err(String),
}

impl Response {
    /// Whether this is an error.
    pub fn is_err(&self) -> bool {
        matches!(self, Response::Err(_))
    }
}

/// A command and where to send its answer.
pub struct Request {
    /// The command.
    pub cmd: Command,
    /// Where the answer goes.
    pub reply: Sender<Response>,
}

/// Errors starting the control thread.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The housekeeping core is a worker core.
    #[error("core {0} is a worker core; the control thread runs on the housekeeping core only")]
    WorkerCore(usize),
    /// Pinning failed.
    #[error("cannot pin the control thread to core {0} (no such core, or not allowed)")]
    Pin(usize),
    /// The initial configuration could not be applied.
    #[error("applying the initial configuration: {0}")]
    Apply(String),
    /// The thread could not be started.
    #[error("cannot start the control thread: {0}")]
    Spawn(std::io::Error),
}

/// Options of the control loop.
#[derive(Debug, Clone, Copy)]
pub struct ControlOptions {
    /// Run [`Command::Reconcile`] this often when idle (`None`: never by itself).
    pub reconcile_every: Option<Duration>,
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            reconcile_every: Some(Duration::from_secs(30)),
        }
    }
}

/// What a hardware apply changed, so it can be undone newest-first.
#[derive(Default)]
struct HwUndo {
    pfs: Vec<(PciAddr, PfChange)>,
    settings: Vec<(u32, Vec<Change>)>,
}

/// The control plane's state, owned by the control thread.
pub struct Control {
    config: Config,
    compiled: Arc<Compiled>,
    vfs: VfMap,
    publisher: Box<dyn TablePublisher>,
    hw: Hardware,
    last_reconcile: Option<Result<usize, String>>,
}

impl Control {
    /// Applies `config` (SR-IOV, VF settings), compiles and publishes it as generation 1.
    pub fn new(
        config: Config,
        publisher: Box<dyn TablePublisher>,
        hw: Hardware,
    ) -> Result<Control, ControlError> {
        let empty = Config {
            role: config.role,
            encap: config.encap,
            mac_table_size: config.mac_table_size,
            ports: Default::default(),
            profiles: Default::default(),
            veths: Default::default(),
            vif_lists: Default::default(),
            sriov: Vec::new(),
        };
        let mut c = Control {
            compiled: Arc::new(
                compile(&empty, &VfMap::new()).map_err(|e| ControlError::Apply(e.to_string()))?,
            ),
            config: empty,
            vfs: VfMap::new(),
            publisher,
            hw,
            last_reconcile: None,
        };
        c.commit(config).map_err(ControlError::Apply)?;
        Ok(c)
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The table set now published.
    pub fn tables(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// Validates, applies, compiles and publishes `new`; on any failure
    /// nothing changes (hardware changes are undone). Returns a summary.
    pub fn commit(&mut self, new: Config) -> Result<String, String> {
        // A file was already checked with its own positions; a change made by
        // a command is checked here, where positions would point into the
        // serialized running configuration: report the messages alone.
        let new = new.validate().map_err(|e| {
            let n = e.0.len();
            let msgs: Vec<String> = e.0.into_iter().map(|x| x.msg).collect();
            format!(
                "{n} error{} in the changed configuration:\n{}",
                if n == 1 { "" } else { "s" },
                msgs.join("\n")
            )
        })?;
        // The learned table is allocated once, when the process starts.
        if new.mac_table_slots() != self.config.mac_table_slots() {
            return Err(format!(
                "mac_table_size cannot change while vfex runs (the learned MAC table was allocated at start with {} slots): change it in the file and restart vfex",
                self.config.mac_table_slots()
            ));
        }
        let (vfs, undo) = self.apply_hw(&new)?;
        let mut compiled = match compile(&new, &vfs) {
            Ok(c) => c,
            Err(e) => {
                self.undo_hw(undo);
                return Err(e.to_string());
            }
        };
        compiled.generation = self.compiled.generation + 1;
        let compiled = Arc::new(compiled);
        if let Err(e) = self.publisher.publish(&compiled) {
            self.undo_hw(undo);
            return Err(e.to_string());
        }
        let summary = format!(
            "published generation {}: {} ports, {} vEths, {} VIF lists",
            compiled.generation,
            compiled.ports.len(),
            compiled.veths.len(),
            compiled.vif_lists.len()
        );
        self.config = new;
        self.compiled = compiled;
        self.vfs = vfs;
        Ok(summary)
    }

    fn apply_hw(&mut self, new: &Config) -> Result<(VfMap, HwUndo), String> {
        let mut undo = HwUndo::default();
        let mut vfs = VfMap::new();
        // Refuse to re-create VFs under ports the dataplane has open: their
        // devices would vanish under DPDK.
        for pf in &new.sriov {
            let old = self.config.sriov.iter().find(|o| o.pf == pf.pf);
            if let Some(old) = old.filter(|o| o.num_vfs != pf.num_vfs || o.driver != pf.driver) {
                let users = self.ports_on_vfs_of(&old.pf);
                if !users.is_empty() {
                    return Err(format!(
                        "PF {}: cannot re-create its VFs (num_vfs {} -> {}, driver {:?} -> {:?}) while {} {} open in the dataplane; remove {} first",
                        old.pf,
                        old.num_vfs,
                        pf.num_vfs,
                        old.driver.as_deref().unwrap_or("unchanged"),
                        pf.driver.as_deref().unwrap_or("unchanged"),
                        if users.len() == 1 { "port" } else { "ports" },
                        users
                            .iter()
                            .map(|u| format!("`{u}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                            + if users.len() == 1 { " is" } else { " are" },
                        if users.len() == 1 { "it" } else { "them" }
                    ));
                }
            }
        }
        let old_settings = crate::compile::vf_settings(&self.config);
        let new_settings = crate::compile::vf_settings(new);
        for pf in &new.sriov {
            let old = self.config.sriov.iter().find(|o| o.pf == pf.pf);
            let settings = new_settings.get(&pf.pf).cloned().unwrap_or_default();
            if old == Some(pf) && old_settings.get(&pf.pf).cloned().unwrap_or_default() == settings
            {
                // Unchanged: keep the known VFs without touching the kernel.
                for ((p, i), a) in self.vfs.iter().filter(|((p, _), _)| *p == pf.pf) {
                    vfs.insert((p.clone(), *i), a.clone());
                }
                continue;
            }
            let r = (|| -> Result<(), String> {
                let (list, change) = sriov::apply_pf(
                    &*self.hw.sysfs,
                    &pf.pf,
                    pf.num_vfs,
                    pf.autoprobe,
                    pf.driver.as_deref(),
                    self.hw.vf_wait,
                )
                .map_err(|e| e.to_string())?;
                undo.pfs.push((pf.pf.clone(), change));
                for (id, addr) in list {
                    vfs.insert((id.pf, id.index), addr);
                }
                if !settings.is_empty() {
                    let ifindex =
                        sriov::pf_ifindex(&*self.hw.sysfs, &pf.pf).map_err(|e| e.to_string())?;
                    let changes = netlink::apply_vf_settings(
                        &mut *self.hw.netlink,
                        &pf.pf,
                        ifindex,
                        &settings,
                    )
                    .map_err(|e| e.to_string())?;
                    undo.settings.push((ifindex, changes));
                }
                Ok(())
            })();
            if let Err(e) = r {
                self.undo_hw(undo);
                return Err(e);
            }
        }
        // PFs no longer configured keep their VFs (destroy them with `vf destroy`).
        Ok((vfs, undo))
    }

    /// Names of the running ports that open a VF of `pf` (not representors:
    /// those live on the PF).
    fn ports_on_vfs_of(&self, pf: &PciAddr) -> Vec<String> {
        self.config
            .ports
            .iter()
            .filter(|(_, p)| matches!(&p.device, PortDevice::Vf { pf: q, .. } if q == pf))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn undo_hw(&mut self, undo: HwUndo) {
        for (ifindex, changes) in undo.settings.iter().rev() {
            for c in changes.iter().rev() {
                let _ = self.hw.netlink.set_vf(*ifindex, c.vf.into(), &c.old);
            }
        }
        for (pf, change) in undo.pfs.iter().rev() {
            sriov::undo_pf(&*self.hw.sysfs, pf, change, self.hw.vf_wait);
        }
    }

    /// Re-applies VF settings that drifted; returns how many were corrected.
    pub fn reconcile(&mut self) -> Result<usize, String> {
        let r = self.reconcile_once();
        self.last_reconcile = Some(r.clone());
        r
    }

    /// One line per fact: generation, sizes, VFs, the last reconcile.
    pub fn status(&self) -> String {
        let t = &self.compiled;
        let last = match &self.last_reconcile {
            None => "never run".to_string(),
            Some(Ok(n)) => format!("ok, {n} drifted settings corrected"),
            Some(Err(e)) => format!("failed: {e}"),
        };
        let core = core_affinity::get_core_ids()
            .map(|ids| {
                ids.iter()
                    .map(|c| c.id.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|| "unknown".into());
        format!(
            "control thread may run on cores: {core}\nrole {} encap {}\ngeneration {}\nports {}, vEths {}, VIF lists {}\nSR-IOV PFs {}, VFs {}\nlast reconcile: {last}\n",
            t.role.name(),
            t.encap.name(),
            t.generation,
            t.ports.len(),
            t.veths.len(),
            t.vif_lists.len(),
            self.config.sriov.len(),
            self.vfs.len()
        )
    }

    fn reconcile_once(&mut self) -> Result<usize, String> {
        let mut n = 0;
        for (pf, settings) in crate::compile::vf_settings(&self.config) {
            if !self.config.sriov.iter().any(|p| p.pf == pf) {
                continue;
            }
            let ifindex = sriov::pf_ifindex(&*self.hw.sysfs, &pf).map_err(|e| e.to_string())?;
            n += netlink::reconcile(&mut *self.hw.netlink, &pf, ifindex, &settings)
                .map_err(|e| e.to_string())?
                .len();
        }
        Ok(n)
    }

    /// Answers one command.
    pub fn handle(&mut self, cmd: Command) -> Response {
        let r = match cmd {
            Command::ShowConfig => return Response::Text(self.config.to_toml()),
            Command::ShowTables => return Response::Tables(self.compiled.clone()),
            Command::Status => return Response::Text(self.status()),
            Command::Shutdown => return Response::Ok("shutting down".into()),
            Command::Reconcile => self
                .reconcile()
                .map(|n| format!("{n} drifted VF settings corrected")),
            Command::SaveConfig { path } => {
                save(&path, &self.config.to_toml()).map(|_| format!("saved to {}", path.display()))
            }
            Command::LoadConfig { path } => match crate::config::load(&path) {
                Ok(c) => self.commit(c),
                Err(e) => Err(e.to_string()),
            },
            Command::LoadConfigText { name, text } => match crate::config::parse(&name, &text) {
                Ok(c) => self.commit(c),
                Err(e) => Err(e.to_string()),
            },
            other => match self.edit(other) {
                Ok(new) => self.commit(new),
                Err(e) => Err(e),
            },
        };
        match r {
            Ok(s) => Response::Ok(s),
            Err(e) => Response::Err(e),
        }
    }

    /// Builds the edited copy of the configuration for an editing command.
    fn edit(&self, cmd: Command) -> Result<Config, String> {
        let mut c = self.config.clone();
        match cmd {
            Command::VethAdd { name, veth } => {
                if c.veths.contains_key(&name) {
                    return Err(format!(
                        "vEth `{name}` already exists; use `veth set` to change it"
                    ));
                }
                c.veths.insert(name, veth);
            }
            Command::VethDel { name } => {
                if c.veths.remove(&name).is_none() {
                    return Err(format!("no vEth `{name}`"));
                }
                for l in c.vif_lists.values_mut() {
                    l.members.retain(|m| *m != name);
                }
            }
            Command::VethSet {
                name,
                profile,
                rules,
            } => {
                let v = c
                    .veths
                    .get_mut(&name)
                    .ok_or_else(|| format!("no vEth `{name}`"))?;
                if let Some(p) = profile {
                    v.profile = (!p.is_empty()).then_some(p);
                }
                v.rules = rules.over(&v.rules);
            }
            Command::ProfileAdd { name, rules } => {
                if c.profiles.contains_key(&name) {
                    return Err(format!(
                        "profile `{name}` already exists; use `profile set` to change it"
                    ));
                }
                c.profiles.insert(name, rules);
            }
            Command::ProfileSet { name, rules } => {
                let p = c
                    .profiles
                    .get_mut(&name)
                    .ok_or_else(|| format!("no profile `{name}`"))?;
                *p = rules.over(p);
            }
            Command::ProfileDel { name } => {
                if c.profiles.remove(&name).is_none() {
                    return Err(format!("no profile `{name}`"));
                }
                let users: Vec<&String> = c
                    .veths
                    .iter()
                    .filter(|(_, v)| v.profile.as_deref() == Some(&name))
                    .map(|(n, _)| n)
                    .collect();
                if !users.is_empty() {
                    return Err(format!(
                        "profile `{name}` is inherited by vEth {}; change their profile first",
                        users
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            Command::VfCreate { pf, num_vfs } => match c.sriov.iter_mut().find(|p| p.pf == pf) {
                Some(p) => {
                    p.num_vfs = num_vfs;
                    p.vf.retain(|v| v.index < num_vfs);
                }
                None => c.sriov.push(SriovPf {
                    pf,
                    num_vfs,
                    autoprobe: None,
                    driver: None,
                    vf: Vec::new(),
                }),
            },
            Command::VfDestroy { pf } => {
                let p = c
                    .sriov
                    .iter_mut()
                    .find(|p| p.pf == pf)
                    .ok_or_else(|| format!("PF {pf} is not configured for SR-IOV"))?;
                p.num_vfs = 0;
                p.vf.clear();
            }
            Command::VfSet { pf, vf } => {
                let p = c.sriov.iter_mut().find(|p| p.pf == pf).ok_or_else(|| {
                    format!("PF {pf} is not configured for SR-IOV; `vf create` first")
                })?;
                match p.vf.iter_mut().find(|v| v.index == vf.index) {
                    Some(v) => {
                        macro_rules! over {
                            ($($f:ident),*) => { $( if vf.$f.is_some() { v.$f = vf.$f; } )* };
                        }
                        over!(
                            mac,
                            vlan,
                            qos,
                            vlan_proto,
                            spoof_check,
                            trust,
                            min_rate,
                            max_rate,
                            link_state
                        );
                    }
                    None => p.vf.push(vf),
                }
                p.vf.sort_by_key(|v| v.index);
            }
            _ => return Err("not an editing command".into()),
        }
        Ok(c)
    }
}

fn save(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("toml.tmp");
    let header = "# vfex configuration (saved by vfex; see docs/CONFIG.md)\n";
    std::fs::write(&tmp, format!("{header}{text}"))
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}: {e}", path.display())
    })
}

/// A running control thread.
pub struct ControlHandle {
    tx: Sender<Request>,
    thread: Option<JoinHandle<()>>,
}

impl ControlHandle {
    /// Sends a command and waits for its answer.
    pub fn call(&self, cmd: Command) -> Response {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Request { cmd, reply }).is_err() {
            return Response::Err("the control thread has stopped".into());
        }
        rx.recv()
            .unwrap_or_else(|_| Response::Err("the control thread stopped before answering".into()))
    }

    /// A sender for other threads (the CLI).
    pub fn sender(&self) -> Sender<Request> {
        self.tx.clone()
    }

    /// Stops the thread and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.call(Command::Shutdown);
            let _ = t.join();
        }
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the control thread on `housekeeping_core` (refused when it is one
/// of `worker_cores`). `make` builds the [`Control`] inside the thread, so
/// the initial apply already runs pinned; its error is returned here.
pub fn spawn<F>(
    housekeeping_core: usize,
    worker_cores: &[usize],
    opts: ControlOptions,
    make: F,
) -> Result<ControlHandle, ControlError>
where
    F: FnOnce() -> Result<Control, ControlError> + Send + 'static,
{
    if worker_cores.contains(&housekeeping_core) {
        return Err(ControlError::WorkerCore(housekeeping_core));
    }
    // Only ask for a core the process may run on (an out-of-range id would
    // make the affinity call abort).
    let allowed = core_affinity::get_core_ids().unwrap_or_default();
    if !allowed.iter().any(|c| c.id == housekeeping_core) {
        return Err(ControlError::Pin(housekeeping_core));
    }
    let (tx, rx) = crossbeam_channel::unbounded::<Request>();
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<(), ControlError>>(1);
    let thread = std::thread::Builder::new()
        .name("vfex-control".into())
        .spawn(move || {
            if !core_affinity::set_for_current(core_affinity::CoreId {
                id: housekeeping_core,
            }) {
                let _ = ready_tx.send(Err(ControlError::Pin(housekeeping_core)));
                return;
            }
            let mut control = match make() {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            run(&mut control, &rx, opts);
        })
        .map_err(ControlError::Spawn)?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(ControlHandle {
            tx,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(ControlError::Apply(
                "the control thread died while starting".into(),
            ))
        }
    }
}

fn run(control: &mut Control, rx: &Receiver<Request>, opts: ControlOptions) {
    loop {
        let req = match opts.reconcile_every {
            Some(d) => match rx.recv_timeout(d) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = control.reconcile();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let stop = matches!(req.cmd, Command::Shutdown);
        let answer = control.handle(req.cmd);
        let _ = req.reply.send(answer);
        if stop {
            return;
        }
    }
}
