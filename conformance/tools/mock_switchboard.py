#!/usr/bin/env python3
"""mock_switchboard.py - a small stand-in for the `switchboard` binary.

It implements the conformance contract (conformance/README.md) closely
enough to shake out the SIPp scenarios, the RFC 4475 manifest and the Rust
harness before the real binary exists. It is NOT a SIP stack: no
retransmission timers, no DNS, answers always go to the source address.

    mock_switchboard.py --sip-listen 127.0.0.1:5060 --rtp-ports 20000-20100 \
        --data-dir DIR [--log-level info]

Point the harness at it with SWITCHBOARD_BIN=conformance/tools/mock_switchboard.py.
Environment knobs (for experiments only):
    MOCK_CHALLENGE = "md5" (default), "sha256", "sha256,md5" or "md5,sha256":
        which WWW-Authenticate algorithms are offered, in order.
    MOCK_LOCKOUT = consecutive failed authentications before 403 (default 5).
"""

import argparse
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import string
import sys
import time

REALM = "switchboard"
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "s": "subject",
           "k": "supported", "e": "content-encoding", "o": "event",
           "r": "refer-to", "u": "allow-events", "x": "session-expires"}
SINGLE = ["from", "to", "call-id", "cseq", "max-forwards", "content-length",
          "content-type"]
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE"
KNOWN = set(ALLOW.replace(",", " ").split())


class Bad(Exception):
    """The request is malformed: answer 400 with this reason."""


class Drop(Exception):
    """Not a request we can answer: drop it."""


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def rnd(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Message:
    def __init__(self):
        self.method = None      # request
        self.uri = None
        self.status = None      # response
        self.reason = None
        self.headers = []       # (lowercase name, raw name, value) in order
        self.body = b""

    def all(self, name):
        return [v for (n, _, v) in self.headers if n == name]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None


def split_commas(value):
    out, cur, quoted, angle = [], "", False, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        if ch == "," and not quoted and not angle:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def check_name_addr(value, what):
    if value.count('"') - value.count('\\"') * 1 < 0:
        raise Bad("Bad " + what)
    # walk the quoted string honouring backslash escapes
    i, quoted = 0, False
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise Bad("Unterminated quoted string in " + what)
    if "<" in value and ">" not in value:
        raise Bad("Unterminated < in " + what)


VIA_RE = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*(" + TOKEN + r")\s+([^\s;]+)\s*((;\s*" + TOKEN +
                    r"\s*(=\s*[^;,\s]+)?\s*)*)$", re.S)


def parse(data, stream=False):
    """Parse one message. Returns (Message, consumed) or raises Bad/Drop."""
    sep = data.find(b"\r\n\r\n")
    if sep < 0:
        if stream:
            return None, 0
        head, rest = data, b""
    else:
        head, rest = data[:sep], data[sep + 4:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.split("\r\n")
    start = lines[0]
    m = Message()
    if start.startswith("SIP/"):
        mm = re.match(r"^SIP/2\.0 (\d{3}) (.*)$", start)
        if not mm:
            raise Drop("bad status line")
        m.status, m.reason = int(mm.group(1)), mm.group(2)
    else:
        if " SIP/" not in start and not re.match(r"^" + TOKEN + r" \S+ SIP/", start):
            raise Drop("not a request line")
        mm = re.match(r"^(" + TOKEN + r") (\S+) SIP/(\d+\.\d+)$", start)
        m.method = start.split(" ")[0]
        m.uri = None
        m._start_error = None
        if not mm:
            m._start_error = "Malformed Request-Line"
        else:
            m.method, m.uri, version = mm.group(1), mm.group(2), mm.group(3)
            if m.uri.startswith("<"):
                m._start_error = "Request-URI in angle brackets"
            elif version != "2.0":
                m._start_error = "505"
    # headers with unfolding
    unfolded = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        elif line == "":
            continue
        else:
            unfolded.append(line)
    for line in unfolded:
        hm = re.match(r"^(" + TOKEN + r")\s*:(.*)$", line, re.S)
        if not hm:
            raise Bad("Malformed header line")
        raw = hm.group(1)
        name = raw.lower()
        name = COMPACT.get(name, name)
        value = hm.group(2).strip()
        if name in ("via", "contact", "route", "record-route", "allow", "supported",
                    "require", "accept"):
            for part in split_commas(value):
                m.headers.append((name, raw, part.strip()))
        else:
            m.headers.append((name, raw, value))
    # framing
    cls = m.all("content-length")
    if len(cls) > 1:
        raise Bad("Multiple Content-Length values")
    consumed = len(data)
    if cls:
        if not re.match(r"^\d+$", cls[0]):
            raise Bad("Invalid Content-Length")
        n = int(cls[0])
        if n > len(rest):
            if stream:
                return None, 0
            raise Bad("Content-Length larger than the message")
        m.body = rest[:n]
        consumed = (sep + 4 if sep >= 0 else len(data)) + n
    else:
        if stream:
            m.body = b""
            consumed = sep + 4
        else:
            m.body = rest
    return m, consumed


def validate_request(m):
    if m._start_error == "505":
        return 0
    for h in ("via", "from", "to", "call-id", "cseq"):
        if not m.all(h):
            raise Bad("Missing " + {"via": "Via", "from": "From", "to": "To",
                                    "call-id": "Call-ID", "cseq": "CSeq"}[h])
    for h in SINGLE:
        if len(m.all(h)) > 1:
            raise Bad("Multiple " + h + " header fields")
    for v in m.all("via"):
        if not VIA_RE.match(v):
            raise Bad("Malformed Via")
    cs = re.match(r"^(\d+)\s+(" + TOKEN + r")$", m.get("cseq"))
    if not cs:
        raise Bad("Malformed CSeq")
    if len(cs.group(1)) > 10 or int(cs.group(1)) > 2**31 - 1:
        raise Bad("CSeq number out of range")
    if m._start_error and m._start_error != "505":
        raise Bad(m._start_error)
    if cs.group(2) != m.method:
        raise Bad("CSeq method does not match the request method")
    mf = m.get("max-forwards")
    if mf is not None and (not re.match(r"^\d+$", mf) or int(mf) > 255):
        raise Bad("Invalid Max-Forwards")
    check_name_addr(m.get("to"), "To")
    check_name_addr(m.get("from"), "From")
    return int(cs.group(1))


def uri_of(value):
    mm = re.search(r"<([^>]*)>", value)
    uri = mm.group(1).strip() if mm else value.split(";")[0].strip()
    return uri


def uri_user(uri):
    mm = re.match(r"^sips?:([^@;?]+)@", uri)
    return mm.group(1) if mm else None


def uri_hostport(uri):
    mm = re.match(r"^sips?:(?:[^@]*@)?([^;?>]+)", uri)
    hp = mm.group(1)
    if ":" in hp:
        h, p = hp.rsplit(":", 1)
        return h, int(p)
    return hp, 5060


def tag_of(value):
    mm = re.search(r";\s*tag\s*=\s*([^;>\s]+)", value)
    return mm.group(1) if mm else None


def txn_key(m):
    """RFC 3261 17.2.3: branch, sent-by and method (plus Call-ID for RFC 2543 peers)."""
    vias = m.all("via")
    if not vias:
        return None
    mm = re.match(r"^\s*SIP\s*/\s*[^/]+/\s*\S+\s+([^\s;]+)", vias[0])
    return (branch_of(vias[0]), mm.group(1) if mm else vias[0], m.method, m.get("call-id"))


def branch_of(via):
    mm = re.search(r";\s*branch\s*=\s*([^;,\s]+)", via)
    return mm.group(1) if mm else None


def sdp_media(body):
    text = body.decode("latin-1")
    c = re.search(r"c=IN IP4 (\S+)", text)
    mline = re.search(r"m=audio (\d+) RTP/AVP([ 0-9]*)", text)
    if not mline:
        return None
    pts = [int(x) for x in mline.group(2).split()]
    direction = "sendrecv"
    for d in ("sendonly", "recvonly", "inactive"):
        if "a=" + d in text:
            direction = d
    return {"ip": c.group(1) if c else "127.0.0.1", "port": int(mline.group(1)),
            "pts": pts, "dir": direction}


def sdp_offer(ip, port, pts=(0, 8, 101), direction="sendrecv", version=1):
    names = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"}
    lines = ["v=0", "o=switchboard 1 %d IN IP4 %s" % (version, ip), "s=switchboard",
             "c=IN IP4 %s" % ip, "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(str(p) for p in pts))]
    for p in pts:
        lines.append("a=rtpmap:%d %s" % (p, names[p]))
    if 101 in pts:
        lines.append("a=fmtp:101 0-16")
    lines.append("a=ptime:20")
    lines.append("a=" + direction)
    return ("\r\n".join(lines) + "\r\n").encode()


class Server:
    def __init__(self, host, port, rtp_lo, rtp_hi, data_dir):
        self.host, self.port = host, port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, port))
        self.tcp.listen(64)
        self.conns = {}         # sock -> bytearray
        self.rtp_free = list(range(rtp_lo - rtp_lo % 2, rtp_hi, 2))
        self.rtp = {}           # sock -> handler
        self.creds = self.load_creds(data_dir)
        self.nonces = set()
        self.failures = {}
        self.locked = {}
        self.lockout = int(os.environ.get("MOCK_LOCKOUT", "5"))
        self.challenge = os.environ.get("MOCK_CHALLENGE", "md5").split(",")
        self.bindings = {}      # user -> (uri, expires_at)
        self.dialogs = {}       # (call-id, our tag) -> dict
        self.invites = {}       # branch -> dict (server INVITE transactions)
        self.client = {}        # branch -> leg dict (our INVITEs to phones)
        self.cache = {}         # (branch, method) -> last response bytes

    def load_creds(self, d):
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "demo-credentials.json")
        if not os.path.exists(path):
            creds = {"1001": rnd(12), "1002": rnd(12)}
            with open(path, "w") as f:
                json.dump(creds, f)
        with open(path) as f:
            return json.load(f)

    # ---- plumbing -------------------------------------------------------
    def send(self, where, data):
        kind, target = where
        if kind == "udp":
            self.udp.sendto(data, target)
        else:
            try:
                target.sendall(data)
            except OSError:
                pass

    def alloc_rtp(self, handler):
        while self.rtp_free:
            port = self.rtp_free.pop(0)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((self.host, port))
            except OSError:
                s.close()
                continue
            self.rtp[s] = handler
            return s, port
        raise RuntimeError("no RTP ports left")

    def free_rtp(self, s):
        if s in self.rtp:
            del self.rtp[s]
            self.rtp_free.append(s.getsockname()[1])
            s.close()

    def response(self, req, status, reason, extra=(), body=b"", ctype=None, to_tag=None):
        out = ["SIP/2.0 %d %s" % (status, reason)]
        for v in req.all("via"):
            out.append("Via: " + v)
        out.append("From: " + (req.get("from") or ""))
        to = req.get("to") or ""
        if to_tag and tag_of(to) is None and status > 100:
            to += ";tag=" + to_tag
        out.append("To: " + to)
        out.append("Call-ID: " + (req.get("call-id") or ""))
        out.append("CSeq: " + (req.get("cseq") or ""))
        out.append("Server: mock-switchboard")
        out.extend(extra)
        if body:
            out.append("Content-Type: " + (ctype or "application/sdp"))
        out.append("Content-Length: %d" % len(body))
        return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body

    def reply(self, where, req, status, reason, **kw):
        data = self.response(req, status, reason, **kw)
        key = txn_key(req)
        if key:
            self.cache[key] = data
        log("->", status, reason, "for", req.method)
        self.send(where, data)

    def contact(self, user="switchboard", transport="udp"):
        return "Contact: <sip:%s@%s:%d;transport=%s>" % (user, self.host, self.port, transport)

    # ---- main loop ------------------------------------------------------
    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        log("switchboard mock listening on", "%s:%d" % (self.host, self.port), "realm", REALM)
        while True:
            socks = [self.udp, self.tcp] + list(self.conns) + list(self.rtp)
            ready, _, _ = select.select(socks, [], [], 1.0)
            for s in ready:
                if s is self.udp:
                    data, src = s.recvfrom(65535)
                    self.on_datagram(data, ("udp", src))
                elif s is self.tcp:
                    c, _ = s.accept()
                    self.conns[c] = bytearray()
                elif s in self.conns:
                    try:
                        chunk = s.recv(65535)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        del self.conns[s]
                        s.close()
                        continue
                    buf = self.conns[s]
                    buf.extend(chunk)
                    while True:
                        while buf[:2] == b"\r\n":
                            del buf[:2]
                        if not buf:
                            break
                        try:
                            msg, n = parse(bytes(buf), stream=True)
                        except Drop:
                            del self.conns[s]
                            s.close()
                            break
                        except Bad as e:
                            log("framing error on TCP:", e)
                            del self.conns[s]
                            s.close()
                            break
                        if msg is None:
                            break
                        raw = bytes(buf[:n])
                        del buf[:n]
                        self.on_message(raw, ("tcp", s))
                elif s in self.rtp:
                    data, src = s.recvfrom(65535)
                    self.rtp[s](s, data, src)

    def on_datagram(self, data, where):
        if data.strip(b"\r\n") == b"":
            return
        self.on_message(data, where)

    def on_message(self, data, where):
        try:
            m, _ = parse(data, stream=where[0] == "tcp")
            if m is None:
                return
        except Drop as e:
            log("dropped:", e)
            return
        except Bad as e:
            # we need the Via etc. to answer: parse leniently
            m = self.lenient(data)
            if m is None:
                log("dropped unparseable:", e)
                return
            self.reply(where, m, 400, str(e))
            return
        if m.status is not None:
            self.on_response(m, where)
            return
        log("<-", m.method, m.uri, "from", where[1] if where[0] == "udp" else "tcp")
        try:
            cseq = validate_request(m)
        except Bad as e:
            if not m.all("via"):
                log("dropped: no Via")
                return
            self.reply(where, m, 400, str(e))
            return
        if m._start_error == "505":
            self.reply(where, m, 505, "Version Not Supported")
            return
        key = txn_key(m)
        if key in self.cache and m.method != "ACK":
            self.send(where, self.cache[key])
            return
        self.on_request(m, cseq, where)

    def lenient(self, data):
        text = data.decode("latin-1")
        head = text.split("\r\n\r\n")[0]
        lines = head.split("\r\n")
        m = Message()
        m.method = lines[0].split(" ")[0]
        for line in lines[1:]:
            if ":" in line and line[:1] not in " \t":
                n, v = line.split(":", 1)
                n = COMPACT.get(n.strip().lower(), n.strip().lower())
                m.headers.append((n, n, v.strip()))
        if not m.all("via"):
            return None
        return m

    # ---- requests -------------------------------------------------------
    def on_request(self, m, cseq, where):
        mf = m.get("max-forwards")
        if m.method == "ACK":
            self.on_ack(m)
            return
        if mf is not None and int(mf) == 0:
            self.reply(where, m, 483, "Too Many Hops")
            return
        if m.method not in KNOWN:
            self.reply(where, m, 501, "Not Implemented", extra=["Allow: " + ALLOW])
            return
        if not re.match(r"^sips?:", m.uri or "", re.I):
            self.reply(where, m, 416, "Unsupported URI Scheme")
            return
        req = m.all("require")
        if req and m.method not in ("CANCEL",):
            self.reply(where, m, 420, "Bad Extension", extra=["Unsupported: " + ", ".join(req)])
            return
        if m.method == "OPTIONS":
            self.reply(where, m, 200, "OK", extra=["Allow: " + ALLOW, "Accept: application/sdp",
                                                  "Supported: ", self.contact()])
        elif m.method == "REGISTER":
            self.on_register(m, where)
        elif m.method == "INVITE":
            self.on_invite(m, cseq, where)
        elif m.method == "CANCEL":
            self.on_cancel(m, where)
        elif m.method in ("BYE", "INFO", "UPDATE"):
            self.on_in_dialog(m, where)

    def on_register(self, m, where):
        user = uri_user(uri_of(m.get("to")))
        if user not in self.creds:
            self.reply(where, m, 404, "Not Found")
            return
        if self.locked.get(user, 0) > time.time():
            self.reply(where, m, 403, "Forbidden (locked out)")
            return
        auth = m.get("authorization")
        if not auth:
            self.challenge_reply(m, where)
            return
        if self.check_digest(auth, "REGISTER", user):
            self.failures[user] = 0
            contacts = m.all("contact")
            expires = int(m.get("expires") or 3600)
            extra = []
            for c in contacts:
                e = re.search(r";\s*expires\s*=\s*(\d+)", c)
                exp = int(e.group(1)) if e else expires
                if c.strip() == "*" or exp == 0:
                    self.bindings.pop(user, None)
                    continue
                self.bindings[user] = (uri_of(c), time.time() + exp)
                extra.append("Contact: <%s>;expires=%d" % (uri_of(c), exp))
            self.reply(where, m, 200, "OK", extra=extra + ["Expires: %d" % expires], to_tag=rnd())
        else:
            self.failures[user] = self.failures.get(user, 0) + 1
            log("failed authentication", self.failures[user], "for", user)
            if self.failures[user] >= self.lockout:
                self.locked[user] = time.time() + 60
                self.reply(where, m, 403, "Forbidden")
            else:
                self.challenge_reply(m, where)

    def challenge_reply(self, m, where):
        nonce = rnd(24)
        self.nonces.add(nonce)
        extra = []
        for alg in self.challenge:
            extra.append('WWW-Authenticate: Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"'
                         % (REALM, nonce, "SHA-256" if alg == "sha256" else "MD5"))
        self.reply(where, m, 401, "Unauthorized", extra=extra, to_tag=rnd())

    def check_digest(self, auth, method, user):
        params = dict((k.lower(), v.strip('"')) for k, v in
                      re.findall(r'(\w+)\s*=\s*("[^"]*"|[^,\s]+)', auth))
        if params.get("username") != user or params.get("nonce") not in self.nonces:
            return False
        alg = params.get("algorithm", "MD5").upper()
        h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(alg)
        if h is None:
            return False

        def H(s):
            return h(s.encode()).hexdigest()
        ha1 = H("%s:%s:%s" % (user, params.get("realm"), self.creds[user]))
        ha2 = H("%s:%s" % (method, params.get("uri")))
        if params.get("qop"):
            want = H(":".join([ha1, params["nonce"], params.get("nc", ""), params.get("cnonce", ""),
                               params["qop"], ha2]))
        else:
            want = H("%s:%s:%s" % (ha1, params["nonce"], ha2))
        return want == params.get("response")

    def on_invite(self, m, cseq, where):
        to_tag = tag_of(m.get("to"))
        callid = m.get("call-id")
        if to_tag:
            d = self.dialogs.get((callid, to_tag))
            if not d:
                self.reply(where, m, 481, "Call/Transaction Does Not Exist")
                return
            self.reinvite(d, m, where)
            return
        ctype = (m.get("content-type") or "application/sdp").split(";")[0].strip().lower()
        if m.body and ctype != "application/sdp":
            self.reply(where, m, 415, "Unsupported Media Type", extra=["Accept: application/sdp"])
            return
        user = uri_user(m.uri)
        if user == "1000":
            self.did_echo(m, where)
        elif user in self.creds:
            self.b2bua(m, user, where)
        else:
            self.reply(where, m, 404, "Not Found")

    def answer_pts(self, offer):
        common = [p for p in offer["pts"] if p in (0, 8)]
        if not common:
            return None
        pts = [common[0]]
        if 101 in offer["pts"]:
            pts.append(101)
        return pts

    def did_echo(self, m, where):
        tag = rnd()
        offer = sdp_media(m.body) if m.body else None
        if m.body and (offer is None or self.answer_pts(offer) is None):
            self.reply(where, m, 488, "Not Acceptable Here", to_tag=tag)
            return
        self.reply(where, m, 100, "Trying")

        def echo(sock, data, src):
            sock.sendto(data, src)
        sock, port = self.alloc_rtp(echo)
        if offer:
            body = sdp_offer(self.host, port, self.answer_pts(offer))
        else:
            body = sdp_offer(self.host, port)
        d = {"kind": "echo", "rtp": [sock], "callid": m.get("call-id"), "tag": tag,
             "version": 1}
        self.dialogs[(m.get("call-id"), tag)] = d
        self.reply(where, m, 200, "OK", to_tag=tag, body=body, extra=[self.contact("1000")])

    def reinvite(self, d, m, where):
        offer = sdp_media(m.body) if m.body else None
        d["version"] = d.get("version", 1) + 1
        answer_dir = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}.get(
            offer["dir"] if offer else "sendrecv", "sendrecv")
        pts = self.answer_pts(offer) if offer else [0, 8, 101]
        if pts is None:
            self.reply(where, m, 488, "Not Acceptable Here")
            return
        port = d["rtp"][0].getsockname()[1]
        body = sdp_offer(self.host, port, pts, answer_dir, d["version"])
        self.reply(where, m, 200, "OK", body=body, extra=[self.contact()])

    def on_ack(self, m):
        pass

    def on_cancel(self, m, where):
        br = branch_of(m.all("via")[0])
        t = self.invites.get(br)
        if not t or t["done"]:
            self.reply(where, m, 481, "Call/Transaction Does Not Exist")
            return
        self.reply(where, m, 200, "OK", to_tag=t["tag"])
        t["done"] = True
        self.reply(t["where"], t["req"], 487, "Request Terminated", to_tag=t["tag"])
        leg = t.get("leg")
        if leg and not leg.get("answered"):
            self.send_to_phone(leg, self.leg_request(leg, "CANCEL", same_branch=True))

    def on_in_dialog(self, m, where):
        key = (m.get("call-id"), tag_of(m.get("to")))
        d = self.dialogs.get(key)
        if not d:
            self.reply(where, m, 481, "Call/Transaction Does Not Exist")
            return
        self.reply(where, m, 200, "OK")
        if m.method != "BYE":
            return
        self.hangup(d, from_side=d.get("side"))

    def hangup(self, d, from_side=None):
        for s in d.get("rtp", []):
            self.free_rtp(s)
        self.dialogs.pop((d["callid"], d["tag"]), None)
        peer = d.get("peer")
        if peer:
            self.dialogs.pop((peer["callid"], peer["tag"]), None)
            peer["peer"] = None
            if peer["kind"] == "a":
                self.bye_caller(peer)
            else:
                self.send_to_phone(peer["leg"], self.leg_request(peer["leg"], "BYE"))

    # ---- B2BUA ----------------------------------------------------------
    def b2bua(self, m, user, where):
        binding = self.bindings.get(user)
        tag = rnd()
        if not binding or binding[1] < time.time():
            self.reply(where, m, 480, "Temporarily Unavailable", to_tag=tag)
            return
        offer = sdp_media(m.body) if m.body else None
        if offer and self.answer_pts(offer) is None:
            self.reply(where, m, 488, "Not Acceptable Here", to_tag=tag)
            return
        self.reply(where, m, 100, "Trying")
        leg = {"uri": binding[0], "callid": rnd(16) + "@mock", "tag": rnd(), "cseq": 1,
               "branch": "z9hG4bK" + rnd(12), "target": uri_hostport(binding[0]),
               "from_user": uri_user(uri_of(m.get("from"))) or "anonymous", "user": user}
        t = {"req": m, "where": where, "tag": tag, "done": False, "leg": leg,
             "offer": offer}
        self.invites[branch_of(m.all("via")[0])] = t
        leg["txn"] = t
        a_media = {"addr": (offer["ip"], offer["port"]) if offer else None}
        b_media = {"addr": None}
        leg["a_media"], leg["b_media"] = a_media, b_media

        def from_a(sock, data, src):
            a_media["addr"] = a_media["addr"] or src
            if b_media["addr"]:
                leg["b_sock"].sendto(data, b_media["addr"])

        def from_b(sock, data, src):
            b_media["addr"] = b_media["addr"] or src
            if a_media["addr"]:
                leg["a_sock"].sendto(data, a_media["addr"])
        leg["a_sock"], leg["a_port"] = self.alloc_rtp(from_a)
        leg["b_sock"], leg["b_port"] = self.alloc_rtp(from_b)
        self.client[leg["branch"]] = leg
        body = sdp_offer(self.host, leg["b_port"])
        self.send_to_phone(leg, self.leg_request(leg, "INVITE", body=body))

    def leg_request(self, leg, method, body=b"", same_branch=False):
        if method in ("INVITE", "BYE"):
            if method == "BYE":
                leg["cseq"] += 1
                leg["branch_bye"] = "z9hG4bK" + rnd(12)
        branch = leg["branch"] if method in ("INVITE", "CANCEL", "ACK-non2xx") else \
            leg.get("branch_bye") if method == "BYE" else "z9hG4bK" + rnd(12)
        if method == "ACK-non2xx":
            method = "ACK"
        cseq = leg["cseq"] if method != "BYE" else leg["cseq"]
        ruri = leg.get("remote_target") if method in ("BYE",) or (method == "ACK" and leg.get("answered")) \
            else leg["uri"]
        to = "<%s>" % leg["uri"] + (";tag=" + leg["remote_tag"] if leg.get("remote_tag") and
                                     method != "CANCEL" else "")
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.host, self.port, branch),
                 "Max-Forwards: 70",
                 "From: <sip:%s@%s:%d>;tag=%s" % (leg["from_user"], self.host, self.port, leg["tag"]),
                 "To: " + to,
                 "Call-ID: " + leg["callid"],
                 "CSeq: %d %s" % (cseq, method),
                 self.contact()]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send_to_phone(self, leg, data):
        log("-> phone", data.split(b"\r\n")[0].decode())
        self.udp.sendto(data, leg["target"])

    def on_response(self, m, where):
        br = branch_of(m.all("via")[0]) if m.all("via") else None
        method = (m.get("cseq") or " ").split()[-1]
        leg = self.client.get(br)
        log("<- response", m.status, "for", method)
        if not leg:
            for lg in self.client.values():
                if lg.get("branch_bye") == br:
                    return
            return
        if method != "INVITE":
            return
        t = leg["txn"]
        if m.status < 200:
            if m.status in (180, 183) and not t["done"]:
                self.reply(t["where"], t["req"], m.status, m.reason, to_tag=t["tag"])
            return
        leg["remote_tag"] = tag_of(m.get("to"))
        if m.status >= 300:
            self.send_to_phone(leg, self.leg_request(leg, "ACK-non2xx"))
            if not t["done"]:
                t["done"] = True
                self.reply(t["where"], t["req"], m.status, m.reason, to_tag=t["tag"])
            return
        # 2xx
        leg["answered"] = True
        contacts = m.all("contact")
        leg["remote_target"] = uri_of(contacts[0]) if contacts else leg["uri"]
        leg["target"] = uri_hostport(leg["remote_target"])
        answer = sdp_media(m.body) if m.body else None
        if answer:
            leg["b_media"]["addr"] = (answer["ip"], answer["port"])
        self.send_to_phone(leg, self.leg_request(leg, "ACK"))
        if t["done"]:
            self.send_to_phone(leg, self.leg_request(leg, "BYE"))
            return
        t["done"] = True
        req = t["req"]
        pts = self.answer_pts(t["offer"]) if t["offer"] else [0, 8, 101]
        body = sdp_offer(self.host, leg["a_port"], pts)
        a = {"kind": "a", "callid": req.get("call-id"), "tag": t["tag"], "rtp": [leg["a_sock"], leg["b_sock"]],
             "remote_target": uri_of(req.get("contact") or req.get("from")), "where": t["where"],
             "from": req.get("from"), "to": req.get("to"), "cseq": 1, "leg": leg, "side": "a"}
        b = {"kind": "b", "callid": leg["callid"], "tag": leg["tag"], "rtp": [], "leg": leg, "side": "b"}
        a["peer"], b["peer"] = b, a
        self.dialogs[(a["callid"], a["tag"])] = a
        self.dialogs[(b["callid"], b["tag"])] = b
        self.reply(t["where"], req, 200, "OK", to_tag=t["tag"], body=body, extra=[self.contact(leg["user"])])

    def bye_caller(self, a):
        a["cseq"] += 100
        to_hdr = a["from"]
        from_hdr = a["to"] + ";tag=" + a["tag"]
        lines = ["BYE %s SIP/2.0" % a["remote_target"],
                 "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport" % (
                     "UDP" if a["where"][0] == "udp" else "TCP", self.host, self.port, rnd(12)),
                 "Max-Forwards: 70", "From: " + from_hdr, "To: " + to_hdr,
                 "Call-ID: " + a["callid"], "CSeq: %d BYE" % a["cseq"], "Content-Length: 0"]
        log("-> caller BYE")
        self.send(a["where"], ("\r\n".join(lines) + "\r\n\r\n").encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sip-listen", required=True)
    ap.add_argument("--rtp-ports", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--log-level", default="info")
    a = ap.parse_args()
    host, port = a.sip_listen.rsplit(":", 1)
    lo, hi = (int(x) for x in a.rtp_ports.split("-"))
    Server(host, int(port), lo, hi, a.data_dir).run()


if __name__ == "__main__":
    main()
