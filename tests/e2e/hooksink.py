# A real HTTP receiver for the webhook tests: every POST becomes
# DIR/NNN.json ({"path", "headers", "body"}, the body as received). It
# answers with the status in DIR/STATUS (200 when there is none), listens
# on 127.0.0.1 on a free port and writes the port into DIR/port.
#   hooksink.py DIR
import http.server
import json
import os
import sys

d = sys.argv[1]
n = 0


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            status = int(open(os.path.join(d, "STATUS")).read())
        except FileNotFoundError:
            status = 200
        n += 1
        base = os.path.join(d, "%03d" % n)
        with open(base + ".tmp", "w") as f:
            json.dump({"path": self.path, "status": status,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body.decode("utf-8")}, f)
        os.rename(base + ".tmp", base + ".json")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
