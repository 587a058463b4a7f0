//! End-to-end tests in network namespaces: VMs are namespaces with veth
//! interfaces, vfex runs in its own namespace and attaches to the host ends
//! of the veths through DPDK's `net_af_packet` (one queue), and traffic
//! comes from ordinary tools (`ping`, UDP from `python3`).
//!
//! - Topology A (VN-Tag) and B (E-Tag): VMs -> vfex port extender -> veth
//!   "wire" -> vfex controlling bridge -> external host. VM-to-VM (hairpin
//!   through the bridge) and VM-to-external ping; tshark on the wire checks
//!   every tag.
//! - Topology C: vfex VEPA station (basic) and Linux macvlan in VEPA mode
//!   behind the same Linux bridge with `hairpin on`: the same traffic gives
//!   the same deliveries, and no sender receives its own frames.
//!
//! They need root (namespaces, veth, bridge); without it they say so and
//! pass. Every namespace (and with it every link) is removed by a guard,
//! also when a test fails; the tests run one at a time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "../dataplane/tests/common/pcap.rs"]
mod pcap;
use pcap::{TempDir, tshark_fields};

const VFEX: &str = env!("CARGO_BIN_EXE_vfex");

/// One topology at a time: each runs two vfex processes on two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Runs a command; panics with its output when it fails.
fn sh(args: &[&str]) -> String {
    let o = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e} (run scripts/setup.sh)"));
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Namespaces of one test, named `vfx<pid><topo>-<name>`; removed on drop
/// (which removes their links too), after the processes it holds are
/// killed.
struct Topo {
    tag: String,
    names: Vec<String>,
    procs: Vec<Child>,
}

impl Topo {
    fn new(topo: &str, names: &[&str]) -> Topo {
        let mut t = Topo {
            tag: format!("vfx{}{topo}", std::process::id()),
            names: Vec::new(),
            procs: Vec::new(),
        };
        for n in names {
            let ns = t.ns(n);
            // A namespace left by a killed earlier run of this pid: reuse
            // its name.
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            sh(&["ip", "netns", "add", &ns]);
            t.names.push(ns.clone());
            // No IPv6: no router solicitations or MLD reports on the wire,
            // only the traffic the test sends.
            for k in ["all", "default"] {
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
                ]);
            }
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        t
    }

    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    /// A veth pair: `a_if` in namespace `a`, `b_if` in `b`, both up.
    fn veth(&self, a: &str, a_if: &str, b: &str, b_if: &str) {
        let (na, nb) = (self.ns(a), self.ns(b));
        sh(&[
            "ip", "link", "add", a_if, "netns", &na, "type", "veth", "peer", "name", b_if, "netns",
            &nb,
        ]);
        sh(&["ip", "-n", &na, "link", "set", a_if, "up"]);
        sh(&["ip", "-n", &nb, "link", "set", b_if, "up"]);
    }

    /// Gives a VM-like interface its MAC and address, and software
    /// checksums (frames pass through a packet socket unchanged, so a
    /// checksum left to offload would stay unfilled).
    fn host(&self, ns: &str, ifname: &str, mac: &str, ip: &str) {
        let n = self.ns(ns);
        sh(&["ip", "-n", &n, "link", "set", ifname, "address", mac]);
        sh(&["ip", "-n", &n, "addr", "add", ip, "dev", ifname]);
        sh(&[
            "ip", "netns", "exec", &n, "ethtool", "-K", ifname, "tx", "off",
        ]);
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(ns)]);
        c
    }

    /// Runs `args` in namespace `ns`; returns (success, stdout+stderr).
    fn run_in(&self, ns: &str, args: &[&str]) -> (bool, String) {
        let o = self
            .exec(ns)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// `ping -c N` from `ns` to `ip`: every echo answered.
    fn ping(&self, ns: &str, ip: &str, n: u32) {
        let (ok, out) = self.run_in(
            ns,
            &[
                "ping",
                "-n",
                "-c",
                &n.to_string(),
                "-i",
                "0.2",
                "-W",
                "2",
                ip,
            ],
        );
        assert!(
            ok && out.contains(&format!("{n} received")),
            "ping {ns} -> {ip}:\n{out}"
        );
    }

    /// Starts a background process in `ns`, killed on drop; returns its
    /// index for [`Topo::take`].
    fn spawn(&mut self, ns: &str, args: &[&str], out: &Path) -> usize {
        let f = std::fs::File::create(out).unwrap();
        let child = self
            .exec(ns)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        self.procs.push(child);
        self.procs.len() - 1
    }

    /// Sends SIGINT to vfex process `i` and waits for it (5 s at most).
    fn interrupt(&mut self, i: usize) -> std::process::ExitStatus {
        self.interrupt_within(i, Duration::from_secs(5))
    }

    /// Sends SIGINT to tool process `i` (tshark, a sniffer) and waits for
    /// it: 20 s at most, since on a loaded 2-CPU machine a tool that
    /// writes out its capture can take a while (vfex's own stop time is
    /// what the tests judge).
    fn interrupt_tool(&mut self, i: usize) -> std::process::ExitStatus {
        self.interrupt_within(i, Duration::from_secs(20))
    }

    fn interrupt_within(&mut self, i: usize, limit: Duration) -> std::process::ExitStatus {
        let c = &mut self.procs[i];
        let _ = Command::new("kill")
            .args(["-INT", &c.id().to_string()])
            .status();
        let t0 = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                t0.elapsed() < limit,
                "process {i} ignored SIGINT for {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for c in &mut self.procs {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        // Runtime directories of vfex processes that had to be killed.
        let _ = std::fs::read_dir("/var/run/dpdk").map(|d| {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.tag) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        });
    }
}

/// Waits until `file` contains `needle` (`what` names it in the panic).
fn wait_for(file: &Path, needle: &str, what: &str) {
    let t0 = Instant::now();
    loop {
        let s = std::fs::read_to_string(file).unwrap_or_default();
        if s.contains(needle) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{what} not ready:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running vfex in a namespace.
struct Vfex {
    idx: usize,
    out: PathBuf,
    prefix: String,
}

/// Starts vfex on `cfg` in namespace `ns`, and waits until its ports are
/// started and the workers forward.
fn start_vfex(t: &mut Topo, dir: &TempDir, ns: &str, cfg: &str, nports: usize) -> Vfex {
    start_vfex_on(t, dir, ns, cfg, nports, &["-l", "0,1"])
}

/// [`start_vfex`] with these lcore options (`--lcores 0@1,1@0` puts the
/// worker on CPU 0, apart from another instance's worker on CPU 1).
fn start_vfex_on(
    t: &mut Topo,
    dir: &TempDir,
    ns: &str,
    cfg: &str,
    nports: usize,
    lcores: &[&str],
) -> Vfex {
    let path = dir.join(&format!("{ns}.toml"));
    std::fs::write(&path, cfg).unwrap();
    let out = dir.join(&format!("{ns}.out"));
    let prefix = t.ns(ns);
    let p = path.display().to_string();
    let mut args = vec![VFEX];
    args.extend_from_slice(lcores);
    args.extend([
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        &prefix,
        "--",
        "--config",
        &p,
        "--duration",
        "60",
        "--stats-period",
        "0",
    ]);
    let idx = t.spawn(ns, &args, &out);
    wait_for(&out, &format!("port {}:", nports - 1), "vfex");
    std::thread::sleep(Duration::from_millis(300));
    Vfex { idx, out, prefix }
}

impl Vfex {
    /// Stops it with SIGINT; returns its summary. It must exit 0 and leave
    /// no runtime directory.
    fn stop(&self, t: &mut Topo) -> String {
        let st = t.interrupt(self.idx);
        let out = std::fs::read_to_string(&self.out).unwrap();
        assert!(st.success(), "vfex {st:?}:\n{out}");
        assert!(out.contains("Forward statistics"), "{out}");
        assert!(!out.contains("mbufs still in use"), "{out}");
        let rt = Path::new("/var/run/dpdk").join(&self.prefix);
        assert!(!rt.exists(), "{} left behind", rt.display());
        out
    }
}

/// tshark writing a capture of `ifname` in `ns` to `file`.
struct Capture {
    idx: usize,
    file: PathBuf,
}

fn start_capture(t: &mut Topo, dir: &TempDir, ns: &str, ifname: &str) -> Capture {
    let file = dir.join(&format!("{ns}-{ifname}.pcap"));
    let log = dir.join(&format!("{ns}-{ifname}.tshark"));
    let f = file.display().to_string();
    let idx = t.spawn(
        ns,
        &[
            "tshark",
            "-i",
            ifname,
            "-a",
            "duration:30",
            "-F",
            "pcap",
            "-w",
            &f,
        ],
        &log,
    );
    wait_for(&log, "Capturing on", "tshark");
    std::thread::sleep(Duration::from_millis(300));
    Capture { idx, file }
}

impl Capture {
    fn stop(&self, t: &mut Topo) -> PathBuf {
        // Let the last frames reach the capture.
        std::thread::sleep(Duration::from_millis(300));
        t.interrupt_tool(self.idx);
        self.file.clone()
    }
}

/// Extender/bridge topology with one encapsulation.
struct TagCase {
    encap: &'static str,
    /// Tag id key and the two VMs' ids.
    id_key: &'static str,
    ids: [u16; 2],
    /// The VIF-list id / multicast E-CID.
    list: u16,
}

const VM_MAC: [&str; 2] = ["02:00:00:00:01:01", "02:00:00:00:01:02"];
const EXT_MAC: &str = "02:00:00:00:09:09";

fn extender_cfg(c: &TagCase) -> String {
    format!(
        r#"role = "port-extender"
encap = "{encap}"

[ports.uplink]
kind = "uplink"
devargs = "net_af_packet0,iface=pup,qdisc_bypass=0"

[ports.vm1]
kind = "downlink"
devargs = "net_af_packet1,iface=pvm1"

[ports.vm2]
kind = "downlink"
devargs = "net_af_packet2,iface=pvm2"

[veths.vm1]
port = "vm1"
{key} = {a}
mac = "{m1}"
anti_spoof = {{ allowed_macs = ["{m1}"] }}

[veths.vm2]
port = "vm2"
{key} = {b}
mac = "{m2}"
anti_spoof = {{ allowed_macs = ["{m2}"] }}

[vif_lists.all]
id = {list}
members = ["vm1", "vm2"]
"#,
        encap = c.encap,
        key = c.id_key,
        a = c.ids[0],
        b = c.ids[1],
        m1 = VM_MAC[0],
        m2 = VM_MAC[1],
        list = c.list,
    )
}

fn bridge_cfg(c: &TagCase) -> String {
    format!(
        r#"role = "controlling-bridge"
encap = "{encap}"

[ports.ext1]
kind = "downlink"
devargs = "net_af_packet0,iface=cext"

[ports.core]
kind = "uplink"
devargs = "net_af_packet1,iface=ccore"

[veths.a1]
port = "ext1"
{key} = {a}

[veths.a2]
port = "ext1"
{key} = {b}

[vif_lists.ext1-all]
id = {list}
members = ["a1", "a2"]
"#,
        encap = c.encap,
        key = c.id_key,
        a = c.ids[0],
        b = c.ids[1],
        list = c.list,
    )
}

/// One frame on the wire as tshark decodes it.
#[derive(Debug)]
struct WireFrame {
    /// The tag's fields, as [`TagCase::up`] etc. write them.
    tag: String,
    src: String,
    dst: String,
    /// `icmp:<type>:<seq>`, `arp:<opcode>:<target ip>` or empty.
    what: String,
}

impl TagCase {
    fn fields(&self) -> Vec<&'static str> {
        if self.encap == "vntag" {
            vec![
                "vntag.dir",
                "vntag.ptr",
                "vntag.dst",
                "vntag.looped",
                "vntag.src",
                "vntag.version",
            ]
        } else {
            vec![
                "etag.group",
                "etag.ecid_base",
                "etag.iecid_base",
                "etag.ecid_ext",
            ]
        }
    }

    /// Upstream from VM `v` (0 or 1).
    fn up(&self, v: usize) -> String {
        match self.encap {
            "vntag" => format!("0,0,0,0,{},0", self.ids[v]),
            _ => format!("0,{:#06x},0x0000,0x00", self.ids[v]),
        }
    }

    /// Downstream unicast to VM `v`.
    fn down(&self, v: usize) -> String {
        match self.encap {
            "vntag" => format!("1,0,{},0,0,0", self.ids[v]),
            _ => format!("0,{:#06x},0x0000,0x00", self.ids[v]),
        }
    }

    /// Downstream flood on the VIF list, the sender `v` pruned.
    fn flood(&self, v: usize) -> String {
        match self.encap {
            "vntag" => format!("1,1,{},1,{},0", self.list, self.ids[v]),
            _ => format!(
                "{},{:#06x},{:#06x},0x00",
                self.list >> 12,
                self.list & 0xfff,
                self.ids[v]
            ),
        }
    }

    fn wire(&self, pcap: &Path) -> Vec<WireFrame> {
        let mut f = self.fields();
        let n = f.len();
        f.extend([
            "eth.src",
            "eth.dst",
            "icmp.type",
            "icmp.seq",
            "arp.opcode",
            "arp.dst.proto_ipv4",
        ]);
        tshark_fields(pcap, &f)
            .lines()
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                let what = if !c[n + 2].is_empty() {
                    format!("icmp:{}:{}", c[n + 2], c[n + 3])
                } else if !c[n + 4].is_empty() {
                    format!("arp:{}:{}", c[n + 4], c[n + 5])
                } else {
                    String::new()
                };
                WireFrame {
                    tag: c[..n].join(","),
                    src: c[n].to_string(),
                    dst: c[n + 1].to_string(),
                    what,
                }
            })
            .collect()
    }
}

/// Topology A / B: two VMs behind a vfex port extender, a veth wire to a
/// vfex controlling bridge, an external host behind the bridge.
fn extender_to_bridge(topo: &str, c: &TagCase) {
    if !is_root() {
        println!("skipped: network namespaces need root");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let dir = TempDir::new(&format!("netns-{topo}"));
    let mut t = Topo::new(topo, &["vm1", "vm2", "hv", "sw", "ext"]);
    t.veth("vm1", "eth0", "hv", "pvm1");
    t.veth("vm2", "eth0", "hv", "pvm2");
    t.veth("hv", "pup", "sw", "cext");
    t.veth("sw", "ccore", "ext", "eth0");
    // The wire carries a tag more than the VMs' MTU.
    sh(&["ip", "-n", &t.ns("hv"), "link", "set", "pup", "mtu", "1600"]);
    sh(&[
        "ip",
        "-n",
        &t.ns("sw"),
        "link",
        "set",
        "cext",
        "mtu",
        "1600",
    ]);
    t.host("vm1", "eth0", VM_MAC[0], "10.8.0.1/24");
    t.host("vm2", "eth0", VM_MAC[1], "10.8.0.2/24");
    t.host("ext", "eth0", EXT_MAC, "10.8.0.9/24");

    let pe = start_vfex(&mut t, &dir, "hv", &extender_cfg(c), 3);
    // The bridge's worker on CPU 0, the extender's on CPU 1.
    let cb = start_vfex_on(
        &mut t,
        &dir,
        "sw",
        &bridge_cfg(c),
        2,
        &["--lcores", "0@1,1@0"],
    );
    let cap = start_capture(&mut t, &dir, "hv", "pup");
    // What vm1 receives: never its own frames (its broadcasts come back
    // down the VIF list with vm1 pruned).
    let vm1_log = dir.join("sniff-vm1");
    let vm1_sniff = t.spawn("vm1", &["python3", "-c", SNIFF, "eth0"], &vm1_log);
    wait_for(&vm1_log, "ready", "sniffer");

    // VM to VM on one host: hairpin through the bridge.
    t.ping("vm1", "10.8.0.2", 3);
    // VM to the external host, and back.
    t.ping("vm1", "10.8.0.9", 2);
    t.ping("ext", "10.8.0.2", 2);
    let pcap = cap.stop(&mut t);
    t.interrupt_tool(vm1_sniff);
    let vm1_rx = std::fs::read_to_string(&vm1_log).unwrap();
    assert!(
        vm1_rx.lines().any(|l| l.starts_with(EXT_MAC)),
        "vm1 heard from ext:\n{vm1_rx}"
    );
    assert!(
        !vm1_rx.lines().any(|l| l.starts_with(VM_MAC[0])),
        "vm1 received its own frame:\n{vm1_rx}"
    );
    let pe_out = pe.stop(&mut t);
    let cb_out = cb.stop(&mut t);

    let frames = c.wire(&pcap);
    let dump = || {
        frames
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Every frame on the wire carries our tag.
    assert!(
        frames.iter().all(|f| !f.tag.starts_with(',')),
        "untagged frame on the wire:\n{}",
        dump()
    );
    // The frames of one kind, in wire order, with their tags.
    let tags = |src: &str, dst: &str, what: &str| -> Vec<String> {
        frames
            .iter()
            .filter(|f| f.src == src && f.dst == dst && f.what == what)
            .map(|f| f.tag.clone())
            .collect()
    };
    for seq in 1..=3 {
        // Request: up from vm1, back down to vm2; the reply the other way.
        assert_eq!(
            tags(VM_MAC[0], VM_MAC[1], &format!("icmp:8:{seq}")),
            [c.up(0), c.down(1)],
            "echo request {seq} vm1 -> vm2:\n{}",
            dump()
        );
        assert_eq!(
            tags(VM_MAC[1], VM_MAC[0], &format!("icmp:0:{seq}")),
            [c.up(1), c.down(0)],
            "echo reply {seq} vm2 -> vm1:\n{}",
            dump()
        );
    }
    for seq in 1..=2 {
        assert_eq!(
            tags(VM_MAC[0], EXT_MAC, &format!("icmp:8:{seq}")),
            [c.up(0)]
        );
        assert_eq!(
            tags(EXT_MAC, VM_MAC[0], &format!("icmp:0:{seq}")),
            [c.down(0)]
        );
        assert_eq!(
            tags(EXT_MAC, VM_MAC[1], &format!("icmp:8:{seq}")),
            [c.down(1)]
        );
        assert_eq!(
            tags(VM_MAC[1], EXT_MAC, &format!("icmp:0:{seq}")),
            [c.up(1)]
        );
    }
    // vm1's ARP broadcast for vm2: up, then one copy down the VIF list
    // with vm1 pruned; ext's broadcast for vm2 comes down the list too.
    let bc = "ff:ff:ff:ff:ff:ff";
    assert_eq!(
        tags(VM_MAC[0], bc, "arp:1:10.8.0.2"),
        [c.up(0), c.flood(0)],
        "{}",
        dump()
    );
    let ext_arp = tags(EXT_MAC, bc, "arp:1:10.8.0.2");
    assert_eq!(ext_arp.len(), 1, "{}", dump());
    let list_unpruned = match c.encap {
        "vntag" => format!("1,1,{},0,0,0", c.list),
        _ => format!("{},{:#06x},0x0000,0x00", c.list >> 12, c.list & 0xfff),
    };
    assert_eq!(ext_arp[0], list_unpruned, "{}", dump());

    // Nothing dropped on the way; vfex stopped cleanly.
    for out in [&pe_out, &cb_out] {
        assert!(!out.contains("  dropped "), "{out}");
    }
    println!("topology {topo}: {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn topology_a_vntag_extender_bridge_hairpin_and_external() {
    extender_to_bridge(
        "a",
        &TagCase {
            encap: "vntag",
            id_key: "vif",
            ids: [101, 102],
            list: 100,
        },
    );
}

#[test]
fn topology_b_etag_extender_bridge_hairpin_and_external() {
    extender_to_bridge(
        "b",
        &TagCase {
            encap: "etag",
            id_key: "ecid",
            ids: [0x101, 0x102],
            list: 0x1001,
        },
    );
}

/// Prints `ready`, then one line per frame received on the interface
/// (`src dst what`, outgoing frames left out) until SIGINT.
const SNIFF: &str = r#"
import signal, socket, sys
# SIGINT ends the capture even when it was inherited ignored (a test run
# started in the background by a non-interactive shell).
signal.signal(signal.SIGINT, signal.default_int_handler)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
mac = lambda b: ":".join("%02x" % x for x in b)
try:
    while True:
        d, a = s.recvfrom(65535)
        if a[2] == socket.PACKET_OUTGOING:
            continue
        et = int.from_bytes(d[12:14], "big")
        what = "ethertype:%04x" % et
        if et == 0x0806:
            what = "arp%d" % int.from_bytes(d[20:22], "big")
        elif et == 0x0800 and d[23] == 1:
            what = "icmp%d" % d[34]
        elif et == 0x0800 and d[23] == 17:
            what = "udp:" + d[42:].decode(errors="replace")
        print(mac(d[6:12]), mac(d[0:6]), what, flush=True)
except KeyboardInterrupt:
    pass
"#;

/// One VM group of topology C: two VMs and what each received.
struct Group {
    /// Namespace names and their MACs and addresses.
    vms: [(&'static str, &'static str, &'static str); 2],
}

const EXT_C: (&str, &str, &str) = ("ext", "02:00:00:00:09:09", "10.9.0.9");

/// Sends the same traffic from the group's VMs (A pings B and the external
/// host, A and B each send one UDP broadcast) while every receiver sniffs;
/// returns, per receiver (A, B, ext), the set of frames it got, with MACs
/// replaced by role names (A, B, ext, other) and destinations by
/// unicast/broadcast, and the number of frames it received with its own
/// source MAC.
fn deliveries(t: &mut Topo, dir: &TempDir, g: &Group) -> Vec<(String, BTreeSet<String>, usize)> {
    let who = |m: &str| -> &'static str {
        if m == g.vms[0].1 {
            "A"
        } else if m == g.vms[1].1 {
            "B"
        } else if m == EXT_C.1 {
            "ext"
        } else {
            "other"
        }
    };
    let rx = [g.vms[0], g.vms[1], EXT_C];
    let mut sniffers = Vec::new();
    for (ns, _, _) in rx {
        let log = dir.join(&format!("sniff-{}-{ns}", g.vms[0].0));
        let i = t.spawn(ns, &["python3", "-c", SNIFF, "eth0"], &log);
        wait_for(&log, "ready", "sniffer");
        sniffers.push((i, log));
    }
    let (a, b) = (g.vms[0], g.vms[1]);
    t.ping(a.0, b.2, 2);
    t.ping(a.0, EXT_C.2, 2);
    for (ns, name) in [(a.0, "A"), (b.0, "B")] {
        let (ok, out) = t.run_in(
            ns,
            &[
                "python3",
                "-c",
                &format!(
                    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                     s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); \
                     s.sendto(b'bcast-{name}', ('10.9.0.255', 9999))"
                ),
            ],
        );
        assert!(ok, "{out}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut got = Vec::new();
    for ((ns, mac, _), (i, log)) in rx.iter().zip(sniffers) {
        t.interrupt_tool(i);
        let text = std::fs::read_to_string(&log).unwrap();
        let mut set = BTreeSet::new();
        let mut own = 0;
        for l in text.lines().skip(1) {
            let w: Vec<&str> = l.split(' ').collect();
            if w[0] == *mac {
                own += 1;
            }
            let dst = if w[1] == "ff:ff:ff:ff:ff:ff" {
                "bcast"
            } else {
                who(w[1])
            };
            // Frames of the other group (ARP refreshes by the external
            // host) are not part of this group's traffic.
            if who(w[0]) != "other" && dst != "other" {
                set.insert(format!("{} -> {dst} {}", who(w[0]), w[2]));
            }
        }
        got.push((ns.to_string(), set, own));
    }
    got
}

/// Topology C: a vfex VEPA station (basic) and Linux macvlan in VEPA mode,
/// each with two VMs, behind one Linux bridge with hairpin on, and an
/// external host on the bridge.
#[test]
fn topology_c_vepa_station_delivers_like_macvlan_vepa() {
    if !is_root() {
        println!("skipped: network namespaces need root");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let dir = TempDir::new("netns-c");
    let mut t = Topo::new("c", &["vs", "vm1", "vm2", "mh", "mv1", "mv2", "sw", "ext"]);
    let vfex_vms = Group {
        vms: [
            ("vm1", "02:00:00:00:03:01", "10.9.0.1"),
            ("vm2", "02:00:00:00:03:02", "10.9.0.2"),
        ],
    };
    let macvlan_vms = Group {
        vms: [
            ("mv1", "02:00:00:00:04:01", "10.9.0.11"),
            ("mv2", "02:00:00:00:04:02", "10.9.0.12"),
        ],
    };
    // The bridge: vfex's uplink, the macvlans' lower device and the
    // external host, hairpin on for the two VEPA ports.
    let sw = t.ns("sw");
    sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
    sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
    t.veth("vs", "sup", "sw", "bst");
    t.veth("mh", "mvlow", "sw", "bmv");
    t.veth("ext", "eth0", "sw", "bext");
    for p in ["bst", "bmv", "bext"] {
        sh(&["ip", "-n", &sw, "link", "set", p, "master", "br0"]);
    }
    for p in ["bst", "bmv"] {
        sh(&[
            "bridge", "-n", &sw, "link", "set", "dev", p, "hairpin", "on",
        ]);
    }
    t.host("ext", "eth0", EXT_C.1, &format!("{}/24", EXT_C.2));
    // vfex's VMs.
    for (i, (ns, mac, ip)) in vfex_vms.vms.iter().enumerate() {
        t.veth(ns, "eth0", "vs", &format!("pvm{}", i + 1));
        t.host(ns, "eth0", mac, &format!("{ip}/24"));
    }
    // Linux's: macvlan, mode vepa, on mvlow, moved into their namespaces.
    let mh = t.ns("mh");
    for (i, (ns, mac, ip)) in macvlan_vms.vms.iter().enumerate() {
        let tmp = format!("mv{i}");
        sh(&[
            "ip", "-n", &mh, "link", "add", "link", "mvlow", "name", &tmp, "type", "macvlan",
            "mode", "vepa",
        ]);
        sh(&["ip", "-n", &mh, "link", "set", &tmp, "netns", &t.ns(ns)]);
        sh(&["ip", "-n", &t.ns(ns), "link", "set", &tmp, "name", "eth0"]);
        sh(&["ip", "-n", &t.ns(ns), "link", "set", "eth0", "up"]);
        t.host(ns, "eth0", mac, &format!("{ip}/24"));
    }
    let cfg = format!(
        r#"role = "vepa-station"
encap = "none"

[ports.uplink]
kind = "uplink"
devargs = "net_af_packet0,iface=sup"

[ports.vm1]
kind = "downlink"
devargs = "net_af_packet1,iface=pvm1"

[ports.vm2]
kind = "downlink"
devargs = "net_af_packet2,iface=pvm2"

[veths.vm1]
port = "vm1"
mac = "{}"

[veths.vm2]
port = "vm2"
mac = "{}"
"#,
        vfex_vms.vms[0].1, vfex_vms.vms[1].1
    );
    let st = start_vfex(&mut t, &dir, "vs", &cfg, 3);

    let linux = deliveries(&mut t, &dir, &macvlan_vms);
    let ours = deliveries(&mut t, &dir, &vfex_vms);
    let out = st.stop(&mut t);

    let role = ["A", "B", "ext"];
    for (i, (ns, set, _)) in ours.iter().enumerate() {
        println!("{} ({ns}) received {set:?}", role[i]);
    }
    for (i, ((ns_l, l, own_l), (ns_o, o, own_o))) in linux.iter().zip(&ours).enumerate() {
        assert_eq!(
            o, l,
            "{}: vfex ({ns_o}) and macvlan ({ns_l}) deliveries differ",
            role[i]
        );
        // The sender never receives its own frames, broadcasts included.
        assert_eq!(*own_l, 0, "{ns_l} received its own frames: {l:?}");
        assert_eq!(*own_o, 0, "{ns_o} received its own frames: {o:?}");
    }
    // What that is, spelled out: each broadcast reached the two others,
    // A's pings reached B and ext, the replies came back.
    let has = |i: usize, s: &str| ours[i].1.contains(s);
    assert!(has(0, "B -> A icmp0") && has(0, "ext -> A icmp0") && has(0, "B -> bcast udp:bcast-B"));
    assert!(
        has(1, "A -> B icmp8") && has(1, "A -> bcast udp:bcast-A") && has(1, "A -> bcast arp1")
    );
    assert!(
        has(2, "A -> ext icmp8")
            && has(2, "A -> bcast udp:bcast-A")
            && has(2, "B -> bcast udp:bcast-B")
    );
    assert!(!has(0, "A -> bcast udp:bcast-A") && !has(1, "B -> bcast udp:bcast-B"));
    // The station dropped only the reflections of its VMs' own broadcasts
    // (and frames for the macvlan group's MACs).
    for l in out.lines().filter(|l| l.contains("  dropped ")) {
        assert!(
            l.contains("reflection") || l.contains("no_mac"),
            "{l}\n{out}"
        );
    }
    println!("topology c: {:.1} s", t0.elapsed().as_secs_f64());
}
