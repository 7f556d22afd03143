"""Served alone: HTTP batch calls per second a server answers, posting batches of 1,000
`square` calls from two keep-alive connections. Usage: python3 batch_load.py <port> [seconds]
(start a server with `capnweb-bench serve capnweb`, or `node ts-server.mjs` in tests/node)."""
import http.client, threading, time, sys
port=int(sys.argv[1]); secs=float(sys.argv[2]) if len(sys.argv)>2 else 5
lines=[]
for i in range(1,1001):
    lines.append('["push",["pipeline",0,["square"],[%d]]]'%i)
    lines.append('["pull",%d]'%i)
body="\n".join(lines).encode()
count=[0]
def worker():
    c=http.client.HTTPConnection("127.0.0.1",port)
    end=time.time()+secs
    while time.time()<end:
        c.request("POST","/",body,{"Content-Type":"text/plain"})
        r=c.getresponse(); d=r.read()
        assert r.status==200, (r.status,d[:200])
        count[0]+=1
ts=[threading.Thread(target=worker) for _ in range(2)]
t0=time.time()
[t.start() for t in ts]; [t.join() for t in ts]
print("calls/s", count[0]*1000/(time.time()-t0))
