// attack: reach the internet with the global fetch (not a blocked module: the runtime's own
// attack: networking), over IPv4 and IPv6.
// expect: status=security_violation
// expect: result.ipv4=EPERM
// expect: result.ipv6=EPERM
// stopped_by: seccomp: violation=socket(AF_INET)
// stopped_by: seccomp: violation=socket(AF_INET6)
// note: fetch goes around the policy layer's module list; the kernel refuses the socket.
async function attempt(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return "connected";
  } catch (e) {
    return (e.cause && e.cause.code) || e.code || String(e);
  }
}
return { ipv4: await attempt("http://1.1.1.1/"), ipv6: await attempt("http://[2606:4700:4700::1111]/") };
