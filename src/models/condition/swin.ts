// The Swin Transformer encoder E2 of the condition (paper Eq. 1, after Liu et
// al. 2021): window multi-head self-attention with a relative position bias,
// shifted windows with the Swin attention mask, pre-LayerNorm, MLP (GELU,
// ratio 4) and residuals; then ConditionEncoder = multi-scale patch embedding
// + these blocks + a final LayerNorm -> z_c [B, N, d].
//
// How Swin is applied to tokens from three grids (the paper does not say):
// - Every Swin block runs on each scale's OWN 2-D grid with the same weights;
//   windows never mix scales (a window spanning a 4x4 and a 16x16 grid has no
//   geometric meaning). Blocks alternate regular / shifted (block i is shifted
//   when i is odd), as in Swin.
// - Then `globalDepth` (default 1) pre-LN transformer blocks with plain
//   multi-head self-attention over all N tokens mix the scales; the fixed
//   sinusoidal position and learned scale embeddings of the patch embedding
//   tell them where and which scale each token is.
// - Window size per grid follows Swin's rule: if min(gh, gw) <= windowSize the
//   window is min(gh, gw) and there is no shift. A grid that is not a multiple
//   of the window is zero-padded at the bottom/right and the padded tokens are
//   masked out as keys (Swin's detection code attends to them; we do not).
//   A smaller effective window indexes the same (2w-1)^2 bias table with
//   offsets centred on w-1, so one table serves every grid.
// - Masked logits get -1e4 (Swin uses -100) so masked weights underflow to
//   exactly zero in float32.
import * as T from "../../torch/index.js";
import { MultiScalePatchEmbed } from "./patch_embed.js";

type Tensor = T.Tensor;
const MASKED = -1e4;
const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

/** x [B, H, W, C] -> windows [B * nW, w*w, C], windows row-major over the grid. */
export function windowPartition(x: Tensor, w: number): Tensor {
  const [b, h, wd, c] = x.shape as [number, number, number, number];
  if (x.ndim !== 4 || h % w !== 0 || wd % w !== 0) {
    throw new RangeError(`windowPartition: x must be [B, H, W, C] with H and W multiples of ${w}, got ${shapeText(x)}`);
  }
  return T.tidy(() => x.view(b, h / w, w, wd / w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c));
}

/** Inverse of windowPartition: windows [B * nW, w*w, C] -> [B, H, W, C]. */
export function windowReverse(windows: Tensor, w: number, h: number, wd: number): Tensor {
  const nW = (h / w) * (wd / w);
  const [bn, l, c] = windows.shape as [number, number, number];
  if (windows.ndim !== 3 || l !== w * w || bn % nW !== 0) {
    throw new RangeError(`windowReverse: windows must be [B*${nW}, ${w * w}, C] for a ${h}x${wd} grid, got ${shapeText(windows)}`);
  }
  return T.tidy(() => windows.reshape(bn / nW, h / w, wd / w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(bn / nW, h, wd, c));
}

/**
 * Swin's relative position index for a w x w window, flat [w*w * w*w]:
 * index[i][j] = (yi - yj + t - 1) * (2t - 1) + (xi - xj + t - 1), where t is
 * the window size of the bias table (t >= w; t = w is Swin's definition).
 */
export function relativePositionIndex(w: number, tableWindow = w): number[] {
  if (tableWindow < w) throw new RangeError(`relativePositionIndex: table window ${tableWindow} is smaller than window ${w}`);
  const l = w * w;
  const out = new Array<number>(l * l);
  for (let i = 0; i < l; i++) {
    for (let j = 0; j < l; j++) {
      const dy = Math.floor(i / w) - Math.floor(j / w);
      const dx = (i % w) - (j % w);
      out[i * l + j] = (dy + tableWindow - 1) * (2 * tableWindow - 1) + (dx + tableWindow - 1);
    }
  }
  return out;
}

/** How one block lays windows over one grid. */
export interface WindowPlan {
  window: number;
  shift: number;
  /** Padded grid size (multiples of window). */
  hp: number;
  wp: number;
}

export function planWindows(grid: readonly [number, number], windowSize: number, shifted: boolean): WindowPlan {
  const [gh, gw] = grid;
  const small = Math.min(gh, gw) <= windowSize;
  const window = small ? Math.min(gh, gw) : windowSize;
  const shift = small || !shifted ? 0 : Math.floor(windowSize / 2);
  return { window, shift, hp: Math.ceil(gh / window) * window, wp: Math.ceil(gw / window) * window };
}

const maskCache = new Map<string, Float32Array | null>();

/**
 * The additive attention mask [nW, L, L] (0 or -1e4) for a plan on a grid, or
 * null when no shift and no padding: in the rolled frame a key is hidden from
 * a query when they come from different regions of Swin's shift partition
 * (rows/cols [0, hp-w), [hp-w, hp-s), [hp-s, hp)) or the key is padding.
 */
export function windowAttentionMask(grid: readonly [number, number], plan: WindowPlan): Float32Array | null {
  const [gh, gw] = grid;
  const { window: w, shift: s, hp, wp } = plan;
  if (s === 0 && hp === gh && wp === gw) return null;
  const key = `${gh},${gw},${w},${s}`;
  const cached = maskCache.get(key);
  if (cached !== undefined) return cached;
  const band = (p: number, n: number): number => (s === 0 ? 0 : p < n - w ? 0 : p < n - s ? 1 : 2);
  const nWy = hp / w;
  const nWx = wp / w;
  const l = w * w;
  const out = new Float32Array(nWy * nWx * l * l);
  const region = new Int32Array(l);
  const valid = new Uint8Array(l);
  for (let wy = 0; wy < nWy; wy++) {
    for (let wx = 0; wx < nWx; wx++) {
      for (let t = 0; t < l; t++) {
        const y = wy * w + Math.floor(t / w); // rolled-frame position
        const x = wx * w + (t % w);
        region[t] = band(y, hp) * 3 + band(x, wp);
        const oy = (y + s) % hp; // position before the roll by -s
        const ox = (x + s) % wp;
        valid[t] = oy < gh && ox < gw ? 1 : 0;
      }
      const base = (wy * nWx + wx) * l * l;
      for (let i = 0; i < l; i++) {
        for (let j = 0; j < l; j++) out[base + i * l + j] = region[i] !== region[j] || valid[j] === 0 ? MASKED : 0;
      }
    }
  }
  if (maskCache.size > 64) maskCache.clear();
  maskCache.set(key, out);
  return out;
}

/** softmax(q k^T / sqrt(hd) + bias + mask) v over heads; x [B_, L, C]. */
function multiHeadSelfAttention(
  x: Tensor,
  qkv: T.nn.Linear,
  proj: T.nn.Linear,
  drop: T.nn.Dropout,
  heads: number,
  bias: Tensor | null, // [heads, L, L]
  mask: Tensor | null, // [nW, L, L]
): Tensor {
  return T.tidy(() => {
    const [bn, l, c] = x.shape as [number, number, number];
    const hd = c / heads;
    const parts = qkv.forward(x).reshape(bn, l, 3, heads, hd).permute(2, 0, 3, 1, 4); // [3, B_, h, L, hd]
    const q = parts.select(0, 0).mul(1 / Math.sqrt(hd));
    const k = parts.select(0, 1);
    const v = parts.select(0, 2);
    let attn = q.matmul(k.transpose(-2, -1)); // [B_, h, L, L]
    if (bias !== null) attn = attn.add(bias.unsqueeze(0));
    if (mask !== null) {
      const nW = mask.size(0);
      attn = attn.view(bn / nW, nW, heads, l, l).add(mask.unsqueeze(1).unsqueeze(0)).view(bn, heads, l, l);
    }
    const out = drop.forward(attn.softmax(-1)).matmul(v).transpose(1, 2).reshape(bn, l, c);
    return drop.forward(proj.forward(out));
  });
}

/** Window attention with a learned relative position bias. Keys as Swin's WindowAttention. */
export class WindowAttention extends T.nn.Module {
  readonly relativePositionBiasTable: T.nn.Parameter;
  readonly relativePositionIndex: Tensor;
  readonly qkv: T.nn.Linear;
  readonly proj: T.nn.Linear;
  readonly drop: T.nn.Dropout;

  constructor(
    readonly dim: number,
    readonly windowSize: number,
    readonly numHeads: number,
    dropout = 0,
    o: T.nn.LayerOptions = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new RangeError(`WindowAttention: dim ${dim} must be divisible by numHeads ${numHeads}`);
    const t = 2 * windowSize - 1;
    this.relativePositionBiasTable = this.registerParameter("relative_position_bias_table", T.nn.emptyParameter([t * t, numHeads], o));
    T.nn.init.truncNormal_(this.relativePositionBiasTable, { std: 0.02, generator: o.generator });
    const l = windowSize * windowSize;
    this.relativePositionIndex = this.registerBuffer(
      "relative_position_index",
      T.tensor(Int32Array.from(relativePositionIndex(windowSize)), [l, l], { dtype: "int64", device: o.device }),
    );
    this.qkv = this.registerModule("qkv", new T.nn.Linear(dim, 3 * dim, o));
    this.proj = this.registerModule("proj", new T.nn.Linear(dim, dim, o));
    this.drop = this.registerModule("drop", new T.nn.Dropout(dropout));
  }

  /** The bias [heads, L, L] for an effective window w <= windowSize. */
  bias(w: number): Tensor {
    return T.tidy(() => {
      const l = w * w;
      const index =
        w === this.windowSize
          ? this.relativePositionIndex.flatten()
          : T.tensor(Int32Array.from(relativePositionIndex(w, this.windowSize)), [l * l], { dtype: "int64", device: this.relativePositionIndex.device });
      return this.relativePositionBiasTable.indexSelect(0, index).view(l, l, this.numHeads).permute(2, 0, 1);
    });
  }

  /** windows [B*nW, w*w, C] with effective window w; mask [nW, L, L] or null. */
  forward(windows: Tensor, w: number, mask: Tensor | null): Tensor {
    if (windows.ndim !== 3 || windows.shape[1] !== w * w || windows.shape[2] !== this.dim) {
      throw new RangeError(`WindowAttention.forward: windows must be [B*nW, ${w * w}, ${this.dim}], got ${shapeText(windows)}`);
    }
    if (w > this.windowSize) throw new RangeError(`WindowAttention.forward: window ${w} exceeds the table's window ${this.windowSize}`);
    return T.tidy(() => multiHeadSelfAttention(windows, this.qkv, this.proj, this.drop, this.numHeads, this.bias(w), mask));
  }
}

/** Linear - GELU - Linear (keys fc1, fc2), dropout after each. */
export class Mlp extends T.nn.Module {
  readonly fc1: T.nn.Linear;
  readonly fc2: T.nn.Linear;
  readonly act: T.nn.GELU;
  readonly drop: T.nn.Dropout;
  constructor(dim: number, hidden: number, dropout = 0, o: T.nn.LayerOptions = {}) {
    super();
    this.fc1 = this.registerModule("fc1", new T.nn.Linear(dim, hidden, o));
    this.act = this.registerModule("act", new T.nn.GELU());
    this.fc2 = this.registerModule("fc2", new T.nn.Linear(hidden, dim, o));
    this.drop = this.registerModule("drop", new T.nn.Dropout(dropout));
  }
  forward(x: Tensor): Tensor {
    return T.tidy(() => this.drop.forward(this.fc2.forward(this.drop.forward(this.act.forward(this.fc1.forward(x))))));
  }
}

export interface BlockConfig {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  dropout?: number;
}

/** A Swin block: x + WMSA(LN(x)), then x + MLP(LN(x)); regular or shifted windows. */
export class SwinBlock extends T.nn.Module {
  readonly norm1: T.nn.LayerNorm;
  readonly attn: WindowAttention;
  readonly norm2: T.nn.LayerNorm;
  readonly mlp: Mlp;

  constructor(
    c: BlockConfig,
    readonly windowSize: number,
    readonly shifted: boolean,
    o: T.nn.LayerOptions = {},
  ) {
    super();
    this.norm1 = this.registerModule("norm1", new T.nn.LayerNorm(c.dim, o));
    this.attn = this.registerModule("attn", new WindowAttention(c.dim, windowSize, c.numHeads, c.dropout ?? 0, o));
    this.norm2 = this.registerModule("norm2", new T.nn.LayerNorm(c.dim, o));
    this.mlp = this.registerModule("mlp", new Mlp(c.dim, Math.round(c.dim * c.mlpRatio), c.dropout ?? 0, o));
  }

  /** The (shifted) window attention part alone on normalised tokens x [B, gh*gw, C]. */
  windowMsa(x: Tensor, grid: readonly [number, number]): Tensor {
    const [gh, gw] = grid;
    const [b, l, c] = x.shape as [number, number, number];
    const plan = planWindows(grid, this.windowSize, this.shifted);
    const { window: w, shift: s, hp, wp } = plan;
    return T.tidy(() => {
      let g = x.view(b, gh, gw, c);
      if (hp !== gh || wp !== gw) g = T.pad(g, [0, 0, 0, wp - gw, 0, hp - gh]);
      if (s > 0) g = g.roll([-s, -s], [1, 2]);
      const maskData = windowAttentionMask(grid, plan);
      const mask = maskData === null ? null : T.tensor(maskData, [(hp / w) * (wp / w), w * w, w * w], { dtype: x.dtype, device: x.device });
      let out = windowReverse(this.attn.forward(windowPartition(g, w), w, mask), w, hp, wp);
      if (s > 0) out = out.roll([s, s], [1, 2]);
      if (hp !== gh || wp !== gw) out = out.narrow(1, 0, gh).narrow(2, 0, gw);
      return out.reshape(b, l, c);
    });
  }

  /** x [B, gh*gw, C] on one grid -> same shape. */
  forward(x: Tensor, grid: readonly [number, number]): Tensor {
    const [gh, gw] = grid;
    if (x.ndim !== 3 || x.shape[1] !== gh * gw || x.shape[2] !== this.attn.dim) {
      throw new RangeError(`SwinBlock.forward: x must be [B, ${gh * gw}, ${this.attn.dim}] for grid ${gh}x${gw}, got ${shapeText(x)}`);
    }
    return T.tidy(() => {
      const h = x.add(this.windowMsa(this.norm1.forward(x), grid));
      return h.add(this.mlp.forward(this.norm2.forward(h)));
    });
  }
}

/** Plain multi-head self-attention (keys qkv, proj). */
export class Attention extends T.nn.Module {
  readonly qkv: T.nn.Linear;
  readonly proj: T.nn.Linear;
  readonly drop: T.nn.Dropout;
  constructor(
    readonly dim: number,
    readonly numHeads: number,
    dropout = 0,
    o: T.nn.LayerOptions = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new RangeError(`Attention: dim ${dim} must be divisible by numHeads ${numHeads}`);
    this.qkv = this.registerModule("qkv", new T.nn.Linear(dim, 3 * dim, o));
    this.proj = this.registerModule("proj", new T.nn.Linear(dim, dim, o));
    this.drop = this.registerModule("drop", new T.nn.Dropout(dropout));
  }
  forward(x: Tensor): Tensor {
    return multiHeadSelfAttention(x, this.qkv, this.proj, this.drop, this.numHeads, null, null);
  }
}

/** A pre-LN transformer block over all tokens: mixes scales after the Swin blocks. */
export class GlobalBlock extends T.nn.Module {
  readonly norm1: T.nn.LayerNorm;
  readonly attn: Attention;
  readonly norm2: T.nn.LayerNorm;
  readonly mlp: Mlp;
  constructor(c: BlockConfig, o: T.nn.LayerOptions = {}) {
    super();
    this.norm1 = this.registerModule("norm1", new T.nn.LayerNorm(c.dim, o));
    this.attn = this.registerModule("attn", new Attention(c.dim, c.numHeads, c.dropout ?? 0, o));
    this.norm2 = this.registerModule("norm2", new T.nn.LayerNorm(c.dim, o));
    this.mlp = this.registerModule("mlp", new Mlp(c.dim, Math.round(c.dim * c.mlpRatio), c.dropout ?? 0, o));
  }
  forward(x: Tensor): Tensor {
    return T.tidy(() => {
      const h = x.add(this.attn.forward(this.norm1.forward(x)));
      return h.add(this.mlp.forward(this.norm2.forward(h)));
    });
  }
}

export interface ConditionEncoderConfig {
  /** The patch embedding's absolute sin/cos positions (default true; patch_embed.ts). */
  absolutePosition?: boolean;
  inChannels: number;
  dim: number;
  patchSizes: number[];
  /** Number of Swin blocks (alternating regular / shifted). */
  depth: number;
  numHeads: number;
  windowSize: number;
  mlpRatio: number;
  dropout?: number;
  /** Global attention blocks over all scales after the Swin blocks (default 1). */
  globalDepth?: number;
}

function checkConfig(c: ConditionEncoderConfig): void {
  const bad = (what: string): never => {
    throw new RangeError(`ConditionEncoder: ${what}`);
  };
  const posInt = (n: number): boolean => Number.isInteger(n) && n >= 1;
  if (!posInt(c.dim)) bad(`dim must be a positive integer, got ${c.dim}`);
  if (!posInt(c.numHeads) || c.dim % c.numHeads !== 0) bad(`numHeads must divide dim ${c.dim}, got ${c.numHeads}`);
  if (!Number.isInteger(c.depth) || c.depth < 0) bad(`depth must be a non-negative integer, got ${c.depth}`);
  if (!posInt(c.windowSize)) bad(`windowSize must be a positive integer, got ${c.windowSize}`);
  if (!(c.mlpRatio > 0)) bad(`mlpRatio must be positive, got ${c.mlpRatio}`);
  const p = c.dropout ?? 0;
  if (!(p >= 0 && p < 1)) bad(`dropout must be in [0, 1), got ${p}`);
  const g = c.globalDepth ?? 1;
  if (!Number.isInteger(g) || g < 0) bad(`globalDepth must be a non-negative integer, got ${g}`);
}

/**
 * E2 of Eq. 1: y [B, C, H, W] -> z_c [B, N, d]. Keys: patch_embed.*,
 * blocks.{i}.*, global_blocks.{i}.*, norm.*.
 */
export class ConditionEncoder extends T.nn.Module {
  readonly config: Readonly<ConditionEncoderConfig>;
  readonly patchEmbed: MultiScalePatchEmbed;
  readonly blocks: T.nn.ModuleList<SwinBlock>;
  readonly globalBlocks: T.nn.ModuleList<GlobalBlock>;
  readonly norm: T.nn.LayerNorm;

  constructor(c: ConditionEncoderConfig, o: T.nn.LayerOptions = {}) {
    super();
    checkConfig(c);
    this.config = Object.freeze({ ...c, patchSizes: [...c.patchSizes] });
    const block: BlockConfig = { dim: c.dim, numHeads: c.numHeads, mlpRatio: c.mlpRatio, dropout: c.dropout ?? 0 };
    this.patchEmbed = this.registerModule("patch_embed", new MultiScalePatchEmbed(c, o));
    this.blocks = this.registerModule(
      "blocks",
      new T.nn.ModuleList(Array.from({ length: c.depth }, (_, i) => new SwinBlock(block, c.windowSize, i % 2 === 1, o))),
    );
    this.globalBlocks = this.registerModule(
      "global_blocks",
      new T.nn.ModuleList(Array.from({ length: c.globalDepth ?? 1 }, () => new GlobalBlock(block, o))),
    );
    this.norm = this.registerModule("norm", new T.nn.LayerNorm(c.dim, o));
  }

  forward(y: Tensor): { zc: Tensor; grids: [number, number][] } {
    return T.tidy(() => {
      const { tokens, grids } = this.patchEmbed.forward(y);
      // Swin blocks per scale: windows never mix scales, so each scale runs
      // through all blocks on its own grid.
      let offset = 0;
      const perScale = grids.map((grid) => {
        const n = grid[0] * grid[1];
        let x = tokens.narrow(1, offset, n);
        offset += n;
        for (const blk of this.blocks) x = T.tidy(() => blk.forward(x, grid));
        return x;
      });
      let z = T.cat(perScale, 1);
      for (const blk of this.globalBlocks) z = T.tidy(() => blk.forward(z));
      return { zc: this.norm.forward(z), grids };
    });
  }

  override extraRepr(): string {
    const c = this.config;
    return `dim=${c.dim}, patchSizes=[${c.patchSizes.join(", ")}], depth=${c.depth}, heads=${c.numHeads}, window=${c.windowSize}`;
  }
}
