# A TCP relay in front of the test's real PostgreSQL server, that can lose
# the answer to a COMMIT: with DIR/arm present, the next COMMIT a client
# sends (a simple query) goes through to the server, which commits, and
# then both sides of that connection are closed before the answer comes
# back; DIR/arm is removed and DIR/down made. While DIR/down exists every
# new connection is closed at once, as a server still starting would.
# Listens on 127.0.0.1 on a free port and writes the port into DIR/port.
#   pgproxy.py SERVER-PORT DIR
import os
import socket
import sys
import threading
import time

server_port = int(sys.argv[1])
d = sys.argv[2]
COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"


def relay(client):
    try:
        server = socket.create_connection(("127.0.0.1", server_port))
    except OSError:
        client.close()
        return
    cut = threading.Event()

    def back():  # server → client, until the cut
        try:
            while not cut.is_set():
                data = server.recv(65536)
                if not data or cut.is_set():
                    break
                client.sendall(data)
        except OSError:
            pass

    threading.Thread(target=back, daemon=True).start()
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            if COMMIT in data and os.path.exists(os.path.join(d, "arm")):
                cut.set()
                open(os.path.join(d, "down"), "w").close()
                os.remove(os.path.join(d, "arm"))
                server.sendall(data)
                time.sleep(0.5)  # the server commits; its answer is lost
                break
            server.sendall(data)
    except OSError:
        pass
    cut.set()
    for s in (client, server):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write("%d\n" % listener.getsockname()[1])
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
while True:
    c, _ = listener.accept()
    if os.path.exists(os.path.join(d, "down")):
        c.close()
        continue
    threading.Thread(target=relay, args=(c,), daemon=True).start()
