"""edit_safetensors.py IN OUT ACTION NAME: writes a damaged copy of a
safetensors file for error tests. ACTION: drop (remove tensor NAME),
int32 (relabel NAME's dtype as I32), shape (swap NAME's 2-D shape),
truncate (cut the data section short)."""
import json
import struct
import sys

src, dst, action, name = sys.argv[1:5]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
body = data[8 + n:]
if action == "drop":
    # Its bytes go too: the reader refuses bytes that no tensor covers.
    b, e = header.pop(name)["data_offsets"]
    body = body[:b] + body[e:]
    for entry in header.values():
        if "data_offsets" in entry and entry["data_offsets"][0] >= e:
            entry["data_offsets"] = [o - (e - b)
                                     for o in entry["data_offsets"]]
elif action == "int32":
    header[name]["dtype"] = "I32"
elif action == "shape":
    header[name]["shape"] = list(reversed(header[name]["shape"]))
    if header[name]["shape"][0] == header[name]["shape"][-1]:
        header[name]["shape"][0] //= 2
        header[name]["shape"][-1] *= 2
elif action == "truncate":
    body = body[:len(body) // 2]
else:
    sys.exit("unknown action " + action)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + body)
