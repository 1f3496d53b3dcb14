// attack: reach services on the host's loopback (a TCP listener and a UDP socket the test opened on
// attack: 127.0.0.1).
// kernel_only: net and dgram are blocked by the shipped policy layer; the kernel's refusal is the point
// expect: status=security_violation
// expect: result.tcp=EPERM
// expect: result.udp=EPERM
// expect: result.fetch=EPERM
// stopped_by: seccomp: violation=socket(AF_INET)
const net = require("net");
const dgram = require("dgram");
const host = input.host;

const tcp = await new Promise((resolve) => {
  const s = net.connect({ host: "127.0.0.1", port: host.tcp_port });
  s.on("connect", () => resolve("connected"));
  s.on("error", (e) => resolve(e.code));
});
const udp = await new Promise((resolve) => {
  try {
    const s = dgram.createSocket("udp4");
    s.on("error", (e) => resolve(e.code));
    s.send("x", host.udp_port, "127.0.0.1", (e) => resolve(e ? e.code : "sent"));
  } catch (e) {
    resolve(e.code);
  }
});
let fetched;
try {
  await fetch(`http://127.0.0.1:${host.tcp_port}/`);
  fetched = "connected";
} catch (e) {
  fetched = (e.cause && e.cause.code) || String(e);
}
return { tcp, udp, fetch: fetched };
