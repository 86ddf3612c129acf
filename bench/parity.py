#!/usr/bin/env python3
"""PyTorch mirror of MoEDiff-SR's expert E1 and condition encoder, for bench/parity.ts.

Written from reading our TypeScript (src/models/experts/{blocks,config,e1}.ts and
src/models/condition/{patch_embed,swin}.ts); the module and parameter names are those
of the TypeScript modules, so a strict ``load_state_dict`` of our safetensors proves
the keys are PyTorch-compatible. Ops follow the TypeScript's semantics exactly:
GroupNorm with the largest divisor <= 32 leaving >= 4 channels per group (eps 1e-5),
LayerNorm eps 1e-5, exact (erf) GELU, attention scores (q k^T) * 1/sqrt(d_head) (the
Swin blocks scale q first, as Swin does), sinusoidal timestep embedding computed in
float64 with [cos, sin] halves, replicate padding for the Laplacian, 4x4 stride-2
(transposed) convolutions for down/up sampling, masked logits -1e4.
The Swin shift mask is built the way Swin builds it (region ids from slices of the
padded grid) plus a key-validity map for padding, independently of the TypeScript's
direct formula, so the two cross-check each other.

Run by bench/parity.ts as a server: ``parity.py --spec SPEC.json`` reads one JSON
command per stdin line and answers one JSON line on stdout (logs go to stderr):
  {"cmd": "check"}                -> loads weights (strict), runs the inputs, compares
                                     with the TypeScript outputs and gradients
  {"cmd": "time", "case": NAME}   -> runs NAME once ("e1_fwd", "e1_fwdbwd", "cond_fwd",
                                     "cond_fwdbwd") and answers its wall and process CPU ms
  {"cmd": "quit"}
Needs only torch and numpy (safetensors are read by hand: 8-byte little-endian header
length, JSON header, raw little-endian data).
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASKED = -1e4
ST_DTYPES = {
    "F64": (np.float64, torch.float64),
    "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16),
    "I64": (np.int64, torch.int64),
    "I32": (np.int32, torch.int32),
    "I16": (np.int16, torch.int16),
    "I8": (np.int8, torch.int8),
    "U8": (np.uint8, torch.uint8),
    "BOOL": (np.bool_, torch.bool),
}


def js_round(x):
    """JavaScript's Math.round (halves up), which sizes our MLPs; Python's round() halves to even."""
    return int(math.floor(x + 0.5))


def read_safetensors(path, prefix=""):
    """{name: tensor} of every tensor whose name starts with prefix (prefix stripped)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or not name.startswith(prefix):
            continue
        if info["dtype"] not in ST_DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        np_dtype, _ = ST_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        arr = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<"), count=(end - begin) // np.dtype(np_dtype).itemsize, offset=base + begin)
        out[name[len(prefix) :]] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


# ---------------------------------------------------------------- expert E1 (blocks.ts, e1.ts)


def num_groups(channels):
    g = min(32, channels // 4)
    while g > 1:
        if channels % g == 0:
            return g
        g -= 1
    return 1


def group_norm(c):
    return nn.GroupNorm(num_groups(c), c, eps=1e-5)


def channel_bias(v):
    return v.reshape(v.shape[0], v.shape[1], 1, 1)


def sinusoidal(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float64, device=t.device) * (-math.log(max_period) / half))
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], 1).to(torch.float32)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.linear_1 = nn.Linear(dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, t):
        return self.linear_2(F.silu(self.linear_1(sinusoidal(t, self.dim).to(self.linear_1.weight.dtype))))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = None if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.norm2(h) + channel_bias(self.temb_proj(F.silu(temb)))
        shortcut = self.skip  # the 1x1 projection keeps our state_dict key "skip"
        residual = x if shortcut is None else shortcut(x)
        return residual + self.conv2(F.silu(h))


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, temb, kernel=3, dilation=1):
        super().__init__()
        self.norm = group_norm(cin)
        self.conv = nn.Conv2d(cin, cout, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.temb_proj = nn.Linear(temb, cin)

    def forward(self, x, temb):
        return self.conv(F.silu(self.norm(x) + channel_bias(self.temb_proj(F.silu(temb)))))


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class CrossAttention(nn.Module):
    def __init__(self, channels, token_dim, heads):
        super().__init__()
        self.heads = heads
        self.norm = group_norm(channels)
        self.norm_tokens = nn.LayerNorm(token_dim, eps=1e-5)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(token_dim, channels, bias=False)
        self.to_v = nn.Linear(token_dim, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)

    def forward(self, x, tokens):
        b, c, h, w = x.shape
        n = tokens.shape[1]
        dh = c // self.heads
        q = self.to_q(self.norm(x).flatten(2).transpose(1, 2))
        zc = self.norm_tokens(tokens)

        def split(v, length):
            return v.reshape(b, length, self.heads, dh).transpose(1, 2)

        q, k, v = split(q, h * w), split(self.to_k(zc), n), split(self.to_v(zc), n)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh)), -1)
        o = (attn @ v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.to_out(o).transpose(1, 2).reshape(b, c, h, w)


class LaplacianEdgeBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("kernel", k.expand(channels, 1, 3, 3).contiguous(), persistent=False)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        edges = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel, groups=self.channels)
        return x + self.proj(edges)


class Expert1(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c0, c1, c2 = (cfg["baseChannels"] * m for m in (1, 2, 4))
        e = cfg["timeEmbedDim"]
        self.time_embed = TimestepEmbedding(e)
        self.conv_in = nn.Conv2d(cfg["latentChannels"] + cfg["condChannels"] + 1, c0, 3, padding=1)
        self.enc_res0 = ResBlock(c0, c0, e)
        self.edge = LaplacianEdgeBlock(c0)
        self.down1 = Downsample(c0, c1)
        self.enc_res1 = ResBlock(c1, c1, e)
        self.down2 = Downsample(c1, c2)
        self.enc_res2 = ResBlock(c2, c2, e)
        self.mid_dilated = ConvBlock(c2, c2, e, dilation=2)
        self.mid_res = ResBlock(c2, c2, e)
        self.mid_attn = CrossAttention(c2, cfg["tokenDim"], cfg["numHeads"])
        self.up1 = Upsample(c2, c1)
        self.dec_res1 = ResBlock(2 * c1, c1, e)
        self.up2 = Upsample(c1, c0)
        self.dec_res0 = ResBlock(2 * c0, c0, e)
        self.norm_out = group_norm(c0)
        self.conv_out = nn.Conv2d(c0, cfg["latentChannels"], 1)

    def forward(self, zt, t, cond, tokens, gate):
        temb = self.time_embed(t)
        x = self.conv_in(torch.cat([zt, cond, gate], 1))
        s0 = self.edge(self.enc_res0(x, temb))
        s1 = self.enc_res1(self.down1(s0), temb)
        h = self.enc_res2(self.down2(s1), temb)
        h = self.mid_dilated(h, temb)
        h = self.mid_res(h, temb)
        h = self.mid_attn(h, tokens)
        h = self.dec_res1(torch.cat([self.up1(h), s1], 1), temb)
        h = self.dec_res0(torch.cat([self.up2(h), s0], 1), temb)
        return self.conv_out(F.silu(self.norm_out(h)))


# ------------------------------------------------------- condition encoder (patch_embed.ts, swin.ts)


def sincos_positions(grids, patch_sizes, dim):
    """Fixed 2-D sinusoidal embedding of each patch centre in units of the smallest patch (float64 -> float32)."""
    m = dim // 4
    p_min = min(patch_sizes)
    omega = np.power(10000.0, -np.arange(m, dtype=np.float64) / m)
    rows = []
    for (gh, gw), p in zip(grids, patch_sizes):
        r, c = np.meshgrid(np.arange(gh, dtype=np.float64), np.arange(gw, dtype=np.float64), indexing="ij")
        u = ((r.reshape(-1) + 0.5) * p / p_min)[:, None] * omega[None, :]
        v = ((c.reshape(-1) + 0.5) * p / p_min)[:, None] * omega[None, :]
        rows.append(np.concatenate([np.sin(u), np.cos(u), np.sin(v), np.cos(v)], 1))
    return torch.from_numpy(np.concatenate(rows, 0).astype(np.float32))


class MultiScalePatchEmbed(nn.Module):
    def __init__(self, in_channels, dim, patch_sizes, absolute_position=True):
        super().__init__()
        self.dim = dim
        self.absolute_position = absolute_position  # false: scale embeddings only (patch_embed.ts)
        self.patch_sizes = list(patch_sizes)
        self.proj = nn.ModuleList([nn.Conv2d(in_channels, dim, p, stride=p) for p in patch_sizes])
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.scale_embed = nn.Parameter(torch.zeros(len(patch_sizes), dim))
        self._pe = {}

    def forward(self, y):
        h, w = y.shape[2], y.shape[3]
        grids = [(h // p, w // p) for p in self.patch_sizes]
        per_scale = [conv(y).flatten(2).transpose(1, 2) for conv in self.proj]
        ids = torch.cat([torch.full((gh * gw,), s, dtype=torch.int64) for s, (gh, gw) in enumerate(grids)]).to(y.device)
        if not self.absolute_position:
            return self.norm(torch.cat(per_scale, 1)) + self.scale_embed[ids], grids
        key = (h, w)
        if key not in self._pe:
            self._pe[key] = sincos_positions(grids, self.patch_sizes, self.dim)
        pe = self._pe[key].to(device=y.device, dtype=y.dtype)
        tokens = self.norm(torch.cat(per_scale, 1)) + (pe + self.scale_embed[ids])
        return tokens, grids


def swin_relative_index(w, table):
    """Swin's relative position index of a w x w window into a (2 table - 1)^2 bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)  # [2, L]
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()  # [L, L, 2]
    rel[:, :, 0] += table - 1
    rel[:, :, 1] += table - 1
    rel[:, :, 0] *= 2 * table - 1
    return rel.sum(-1)


def partition(x, w):
    b, h, wd, c = x.shape
    return x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def reverse(windows, w, h, wd):
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // w) * (wd // w))
    return windows.reshape(b, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, wd, c)


def plan_windows(grid, window_size, shifted):
    gh, gw = grid
    small = min(gh, gw) <= window_size
    w = min(gh, gw) if small else window_size
    s = 0 if (small or not shifted) else window_size // 2
    return w, s, -(-gh // w) * w, -(-gw // w) * w


def shift_mask(grid, w, s, hp, wp):
    """Additive mask [nW, L, L]: keys in another region of the shift partition, or padding, get -1e4."""
    gh, gw = grid
    if s == 0 and hp == gh and wp == gw:
        return None
    region = torch.zeros(1, hp, wp, 1)
    if s > 0:
        cnt = 0
        for hs in (slice(0, -w), slice(-w, -s), slice(-s, None)):
            for ws in (slice(0, -w), slice(-w, -s), slice(-s, None)):
                region[:, hs, ws, :] = cnt
                cnt += 1
    valid = torch.zeros(1, hp, wp, 1)
    valid[:, :gh, :gw, :] = 1
    if s > 0:
        valid = torch.roll(valid, shifts=(-s, -s), dims=(1, 2))
    rw = partition(region, w).squeeze(-1)  # [nW, L]
    vw = partition(valid, w).squeeze(-1)
    hidden = (rw[:, :, None] != rw[:, None, :]) | (vw[:, None, :] == 0)
    return torch.zeros(hidden.shape).masked_fill(hidden, MASKED)


def self_attention(x, qkv, proj, heads, bias, mask):
    bn, l, c = x.shape
    hd = c // heads
    q, k, v = qkv(x).reshape(bn, l, 3, heads, hd).permute(2, 0, 3, 1, 4)
    attn = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias[None]
    if mask is not None:
        nw = mask.shape[0]
        attn = (attn.view(bn // nw, nw, heads, l, l) + mask[None, :, None]).view(bn, heads, l, l)
    out = (torch.softmax(attn, -1) @ v).transpose(1, 2).reshape(bn, l, c)
    return proj(out)


class WindowAttention(nn.Module):
    def __init__(self, dim, window, heads):
        super().__init__()
        self.window, self.heads = window, heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", swin_relative_index(window, window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def bias(self, w):
        index = self.relative_position_index if w == self.window else swin_relative_index(w, self.window).to(self.relative_position_index.device)
        l = w * w
        return self.relative_position_bias_table[index.reshape(-1)].view(l, l, self.heads).permute(2, 0, 1)

    def forward(self, windows, w, mask):
        return self_attention(windows, self.qkv, self.proj, self.heads, self.bias(w), mask)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, window, shifted):
        super().__init__()
        self.window, self.shifted = window, shifted
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, js_round(dim * mlp_ratio))
        self._masks = {}

    def window_msa(self, x, grid):
        gh, gw = grid
        b, l, c = x.shape
        w, s, hp, wp = plan_windows(grid, self.window, self.shifted)
        if grid not in self._masks:
            self._masks[grid] = shift_mask(grid, w, s, hp, wp)
        mask = self._masks[grid]
        if mask is not None:
            mask = mask.to(device=x.device, dtype=x.dtype)
        g = x.view(b, gh, gw, c)
        if hp != gh or wp != gw:
            g = F.pad(g, (0, 0, 0, wp - gw, 0, hp - gh))
        if s > 0:
            g = torch.roll(g, shifts=(-s, -s), dims=(1, 2))
        out = reverse(self.attn(partition(g, w), w, mask), w, hp, wp)
        if s > 0:
            out = torch.roll(out, shifts=(s, s), dims=(1, 2))
        return out[:, :gh, :gw, :].reshape(b, l, c)

    def forward(self, x, grid):
        h = x + self.window_msa(self.norm1(x), grid)
        return h + self.mlp(self.norm2(h))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return self_attention(x, self.qkv, self.proj, self.heads, None, None)


class GlobalBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, js_round(dim * mlp_ratio))

    def forward(self, x):
        h = x + self.attn(self.norm1(x))
        return h + self.mlp(self.norm2(h))


class ConditionEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, heads, ratio = cfg["dim"], cfg["numHeads"], cfg["mlpRatio"]
        self.patch_embed = MultiScalePatchEmbed(cfg["inChannels"], d, cfg["patchSizes"], cfg.get("absolutePosition", True))
        self.blocks = nn.ModuleList([SwinBlock(d, heads, ratio, cfg["windowSize"], i % 2 == 1) for i in range(cfg["depth"])])
        self.global_blocks = nn.ModuleList([GlobalBlock(d, heads, ratio) for _ in range(cfg.get("globalDepth", 1))])
        self.norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, y):
        tokens, grids = self.patch_embed(y)
        per_scale, offset = [], 0
        for grid in grids:
            n = grid[0] * grid[1]
            x = tokens[:, offset : offset + n]
            offset += n
            for blk in self.blocks:
                x = blk(x, grid)
            per_scale.append(x)
        z = torch.cat(per_scale, 1)
        for blk in self.global_blocks:
            z = blk(z)
        return self.norm(z)


# ------------------------------------------------------------------------------------ the server


class Bench:
    def __init__(self, spec):
        self.spec = spec
        self.device = torch.device(spec["device"])
        torch.set_num_threads(int(spec["threads"]))
        self.e1 = Expert1(spec["expert"]).to(self.device)
        self.cond = ConditionEncoder(spec["condition"]).to(self.device)
        self.load_report = {}
        for name, net, prefix in (("e1", self.e1, spec["e1Prefix"]), ("cond", self.cond, spec["condPrefix"])):
            sd = read_safetensors(spec["weights"], prefix)
            res = net.load_state_dict(sd, strict=True)  # raises on any missing/unexpected key or size mismatch
            self.load_report[name] = {"keys": len(sd), "missing": list(res.missing_keys), "unexpected": list(res.unexpected_keys)}
        # Our stored relative_position_index must equal Swin's formula.
        for i, blk in enumerate(self.cond.blocks):
            want = swin_relative_index(blk.attn.window, blk.attn.window).to(self.device)
            if not torch.equal(blk.attn.relative_position_index, want):
                raise ValueError(f"blocks.{i}.attn.relative_position_index differs from Swin's relative position index")
        inp = {k: v.to(self.device) for k, v in read_safetensors(spec["inputs"]).items()}
        self.zt, self.t, self.cond_latent, self.tokens, self.gate, self.y = (inp[k] for k in ("zt", "t", "cond", "tokens", "gate", "y"))

    def e1_forward(self):
        return self.e1(self.zt, self.t, self.cond_latent, self.tokens, self.gate)

    def fwdbwd(self, net, fwd):
        for p in net.parameters():
            p.grad = None
        out = fwd()
        out.square().sum().backward()
        return out

    def check(self):
        ref = read_safetensors(self.spec["outputs"])
        mine = {"e1.out": self.fwdbwd(self.e1, self.e1_forward).detach(), "cond.out": self.fwdbwd(self.cond, lambda: self.cond(self.y)).detach()}
        for tag, net in (("e1", self.e1), ("cond", self.cond)):
            for k, p in net.named_parameters():
                mine[f"{tag}.grad.{k}"] = p.grad if p.grad is not None else torch.zeros_like(p)
        missing = sorted(set(mine) - set(ref))
        extra = sorted(set(ref) - set(mine))
        diffs = {}
        for k in sorted(set(mine) & set(ref)):
            a, b = mine[k].detach().cpu().double(), ref[k].double()
            if a.shape != b.shape:
                raise ValueError(f"{k}: PyTorch shape {list(a.shape)} but TypeScript {list(b.shape)}")
            diffs[k] = {"max_abs_diff": float((a - b).abs().max()), "max_abs": float(b.abs().max())}
        return {"ok": True, "load": self.load_report, "diffs": diffs, "missing": missing, "extra": extra, "torch": torch.__version__, "threads": torch.get_num_threads()}

    def run(self, case):
        sync = (lambda: torch.cuda.synchronize()) if self.device.type == "cuda" else (lambda: None)
        sync()
        c0 = time.process_time()
        t0 = time.perf_counter()
        if case == "e1_fwd":
            with torch.inference_mode():
                self.e1_forward()
        elif case == "cond_fwd":
            with torch.inference_mode():
                self.cond(self.y)
        elif case == "e1_fwdbwd":
            self.fwdbwd(self.e1, self.e1_forward)
        elif case == "cond_fwdbwd":
            self.fwdbwd(self.cond, lambda: self.cond(self.y))
        else:
            raise ValueError(f"unknown case {case!r}")
        sync()
        ms = (time.perf_counter() - t0) * 1000.0
        return {"ok": True, "ms": ms, "cpu_ms": (time.process_time() - c0) * 1000.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True, help="JSON written by bench/parity.ts")
    args = ap.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    bench = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                break
            if bench is None:
                bench = Bench(spec)
            if cmd == "check":
                reply = bench.check()
            elif cmd == "time":
                reply = bench.run(msg["case"])
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except Exception as e:  # reported to the driver, which prints it and exits non-zero
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
