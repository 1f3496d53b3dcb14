// attack: reach the cloud metadata service for instance credentials with the global fetch:
// attack: 169.254.169.254 (AWS, GCP, Azure) and fd00:ec2::254 (AWS IPv6).
// expect: status=security_violation
// expect: result.imds=EPERM
// expect: result.imds_ipv6=EPERM
// stopped_by: seccomp: violation=socket(AF_INET)
// stopped_by: seccomp: violation=socket(AF_INET6)
async function attempt(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return "connected";
  } catch (e) {
    return (e.cause && e.cause.code) || e.code || String(e);
  }
}
return {
  imds: await attempt("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
  imds_ipv6: await attempt("http://[fd00:ec2::254]/latest/meta-data/"),
};
