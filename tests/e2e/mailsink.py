# A real SMTP server for the tests and the demo (aiosmtpd): every message
# it accepts becomes DIR/NNN.eml (the bytes as received) and DIR/NNN.rcpt
# (MAIL FROM, then one RCPT TO a line). It listens on 127.0.0.1:PORT (0:
# a free one) and writes the port it got into DIR/port.
#   mailsink.py DIR [PORT] [USER:PASSWORD]   (AUTH required when given)
# Started again on a DIR it numbers on. A file DIR/REJECT makes it refuse every recipient with 550.
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, d):
        self.d = d
        self.n = len([f for f in os.listdir(d) if f.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, options):
        if os.path.exists(os.path.join(self.d, "REJECT")):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.d, "%03d" % self.n)
        with open(base + ".rcpt", "w") as f:
            f.write(envelope.mail_from + "\n")
            f.write("".join(r + "\n" for r in envelope.rcpt_tos))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 accepted"


def authenticator(want):
    def check(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and \
            data.login.decode() + ":" + data.password.decode() == want
        return AuthResult(success=ok)
    return check


async def main():
    d = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    auth = sys.argv[3] if len(sys.argv) > 3 else None
    sink = Sink(d)

    def factory():
        if auth:
            return SMTP(sink, authenticator=authenticator(auth),
                        auth_required=True, auth_require_tls=False)
        return SMTP(sink)

    loop = asyncio.get_running_loop()
    srv = await loop.create_server(factory, "127.0.0.1", port)
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write("%d\n" % srv.sockets[0].getsockname()[1])
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    await srv.serve_forever()

asyncio.run(main())
