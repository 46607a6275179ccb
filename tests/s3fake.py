#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted fake S3 server for the S3 client's tests (standard library only).

usage: s3fake.py PORTFILE LOGFILE SCRIPT [ARG]

Listens on 127.0.0.1 (a free port, written to PORTFILE), path-style: the
first path segment is the bucket, the rest the key.  Signatures are not
checked.  Objects live in memory: PUT (with If-None-Match: * giving 412
when the key exists), GET (with Last-Modified), DELETE, ListObjectsV2.
Multipart uploads are kept too (initiate, parts, complete, abort).
Every request is logged to LOGFILE as "METHOD RAW-PATH" exactly as it
arrived (no decoding, no dot-segment normalisation), one a line; a
completed multipart upload adds "COMPLETE KEY SHA256 PARTS".

SCRIPT picks what the listing (and the bucket) looks like:
  plain       the stored objects, one page
  hostile     plain plus keys that must never be requested: a '..' escape,
              a '.' segment, an empty segment, a key not under the prefix
              ('other/notunder'), a key with a control character
  repeat      truncated pages forever, always the same NextContinuationToken
  endless     truncated pages forever, a new token each time; ARG keys a
              page (default 1000), each key new
  bigpage     one page larger than the client's 64 MiB reply cap
  stall       a listing request is never answered (the connection stays open)
  slowdown    a listing request is answered 503 SlowDown, always
  slowparts   plain, but each multipart part takes 2 s to be answered
  badlock     plain, and the lock object exists holding ARG (default
              'garbage') with a Last-Modified 120 s ago
"""
import email.utils
import hashlib
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, LOGFILE, SCRIPT = sys.argv[1], sys.argv[2], sys.argv[3]
ARG = sys.argv[4] if len(sys.argv) > 4 else None
HOSTILE = ['site/../../victim/important', 'site/a/./b', 'site//x', 'other/notunder',
           'site/ctl\x01key']

objects = {}  # (bucket, key) -> (bytes, mtime[, multipart ETag])
lock = threading.Lock()
log = open(LOGFILE, 'a', buffering=1)
pages = [0]
uploads = {}  # upload id -> {part number: bytes}


def esc(s):
    return s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def etag_of(bucket, key):
    """An object's ETag: the MD5 of a single PUT's body, else the one its
    multipart upload was given."""
    o = objects[(bucket, key)]
    return o[2] if len(o) > 2 else hashlib.md5(o[0]).hexdigest()


def contents(key, size=0, etag="d41d8cd98f00b204e9800998ecf8427e"):
    return ('<Contents><Key>%s</Key><Size>%d</Size><ETag>"%s"'
            '</ETag></Contents>' % (esc(key), size, etag))


def page(keys, token):
    body = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>']
    body += keys
    if token is None:
        body.append('<IsTruncated>false</IsTruncated>')
    else:
        body.append('<IsTruncated>true</IsTruncated><NextContinuationToken>%s'
                    '</NextContinuationToken>' % esc(token))
    body.append('</ListBucketResult>')
    return ''.join(body).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def reply(self, status, body=b'', headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def error(self, status, code):
        self.reply(status, ('<?xml version="1.0"?><Error><Code>%s</Code><Message>%s</Message>'
                            '</Error>' % (code, code)).encode(), [('Content-Type', 'application/xml')])

    def target(self):
        log.write('%s %s\n' % (self.command, self.path))
        raw, _, query = self.path.partition('?')
        parts = raw.lstrip('/').split('/', 1)
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ''
        return parts[0], key, urllib.parse.parse_qs(query, keep_blank_values=True)

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def do_GET(self):
        bucket, key, q = self.target()
        if key:
            with lock:
                obj = objects.get((bucket, key))
            if obj is None:
                return self.error(404, 'NoSuchKey')
            lm = email.utils.formatdate(obj[1], usegmt=True)
            return self.reply(200, obj[0], [('Last-Modified', lm), ('Content-Type', 'text/plain')])
        self.listing(bucket, q.get('prefix', [''])[0])

    def listing(self, bucket, prefix):
        if SCRIPT == 'stall':
            time.sleep(600)
            return
        if SCRIPT == 'slowdown':
            return self.error(503, 'SlowDown')
        if SCRIPT == 'repeat':
            return self.reply(200, page([contents(prefix + 'k')], 'the-same-token'))
        if SCRIPT == 'endless':
            n = int(ARG or 1000)
            with lock:
                pages[0] += 1
                p = pages[0]
            keys = [contents('%sp%d/k%d' % (prefix, p, i), 1) for i in range(n)]
            return self.reply(200, page(keys, 'token-%d' % p))
        if SCRIPT == 'bigpage':
            return self.big_page(prefix)
        with lock:
            keys = sorted(k for (b, k) in objects if b == bucket and k.startswith(prefix))
            listed = [contents(k, len(objects[(bucket, k)][0]), etag_of(bucket, k)) for k in keys]
        if SCRIPT == 'hostile':
            listed += [contents(k, 5) for k in HOSTILE]
        self.reply(200, page(listed, None))

    def big_page(self, prefix):
        one = contents(prefix + 'x' * 200, 1).encode()
        count = (65 << 20) // len(one) + 1
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
        tail = b'<IsTruncated>false</IsTruncated></ListBucketResult>'
        self.send_response(200)
        self.send_header('Content-Length', str(len(head) + count * len(one) + len(tail)))
        self.end_headers()
        try:
            self.wfile.write(head)
            chunk = one * 1000
            left = count
            while left:
                k = min(left, 1000)
                self.wfile.write(chunk if k == 1000 else one * k)
                left -= k
            self.wfile.write(tail)
        except OSError:
            pass  # the client stopped reading at its cap

    def do_HEAD(self):
        self.do_GET()

    def do_PUT(self):
        bucket, key, q = self.target()
        data = self.body()
        if 'partNumber' in q:
            if SCRIPT == 'slowparts':
                time.sleep(2)
            with lock:
                parts = uploads.get(q.get('uploadId', [''])[0])
                if parts is None:
                    return self.error(404, 'NoSuchUpload')
                parts[int(q['partNumber'][0])] = data
            return self.reply(200, b'', [('ETag', '"%s"' % hashlib.md5(data).hexdigest())])
        with lock:
            if self.headers.get('If-None-Match') == '*' and (bucket, key) in objects:
                return self.error(412, 'PreconditionFailed')
            objects[(bucket, key)] = (data, time.time())
            etag = etag_of(bucket, key)
        self.reply(200, b'', [('ETag', '"%s"' % etag)])

    def do_DELETE(self):
        bucket, key, q = self.target()
        with lock:
            if 'uploadId' in q:
                uploads.pop(q['uploadId'][0], None)
            else:
                objects.pop((bucket, key), None)
        self.reply(204)

    def do_POST(self):
        bucket, key, q = self.target()
        self.body()
        xml = [('Content-Type', 'application/xml')]
        if 'uploads' in q:
            with lock:
                uid = 'up-%d' % (len(uploads) + 1)
                uploads[uid] = {}
            return self.reply(200, ('<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>'
                                    '<UploadId>%s</UploadId></InitiateMultipartUploadResult>'
                                    % (bucket, esc(key), uid)).encode(), xml)
        with lock:
            parts = uploads.pop(q.get('uploadId', [''])[0], None)
            if parts is None:
                return self.error(404, 'NoSuchUpload')
            data = b''.join(parts[n] for n in sorted(parts))
            # as S3 names a multipart upload: the MD5 of its parts' MD5s, "-N"
            etag = '%s-%d' % (hashlib.md5(b''.join(hashlib.md5(parts[n]).digest()
                                                   for n in sorted(parts))).hexdigest(), len(parts))
            objects[(bucket, key)] = (data, time.time(), etag)
        log.write('COMPLETE %s %s %d\n' % (key, hashlib.sha256(data).hexdigest(), len(parts)))
        self.reply(200, ('<CompleteMultipartUploadResult><ETag>&quot;%s&quot;</ETag>'
                         '</CompleteMultipartUploadResult>' % etag).encode(), xml)


if SCRIPT == 'badlock':
    objects[('b', 'site/.sstream/lock')] = ((ARG if ARG is not None else 'garbage').encode(), time.time() - 120)
class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a client hanging up is no news


srv = Server(('127.0.0.1', 0), Handler)
with open(PORTFILE + '.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + '.tmp', PORTFILE)
srv.serve_forever()
