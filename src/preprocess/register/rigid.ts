// The rigid (6 degrees of freedom) transform of `register`, as plain numbers and as engine tensors.
//
// Convention (what resampling needs): T maps a point of the FIXED image's world space (mm) to the
// point of the MOVING image's world space that shows the same anatomy:
//
//     T(p) = R (p - c) + c + t
//
// - c: the rotation centre, the centre of the fixed volume's field of view in world mm (fixed.affine
//   applied to voxel ((nx-1)/2, (ny-1)/2, (nz-1)/2)); it does not change during the optimisation.
// - R = Rz(gamma) Ry(beta) Rx(alpha): rotation about the world x axis first, then y, then z
//   (angles in radians, right-handed, positive = counter-clockwise looking down the axis).
// - t: translation in mm.
// The moving image resampled onto the fixed grid is moving(T(p)) at each fixed voxel centre p.
//
// rigidMatrixTensor() builds the same matrix from a parameter tensor, differentiably, for the
// optimiser; rigidMatrix() is its plain-number twin (the two agree to rounding, see the tests).
import * as T from "../../torch/index.js";
import type { Vec3 } from "../../volume/affine.js";

export type Angles = readonly [number, number, number];

export interface RigidParameters {
  /** Rotation angles about x, y, z (radians), applied x first. */
  readonly angles: Angles;
  /** Translation (mm). */
  readonly translation: Vec3;
}

export const IDENTITY_PARAMETERS: RigidParameters = Object.freeze({ angles: Object.freeze([0, 0, 0] as const), translation: Object.freeze([0, 0, 0] as const) });

/** The 3x3 rotation Rz(gamma) Ry(beta) Rx(alpha), row-major. */
export function rotationMatrix(angles: Angles): number[] {
  const [a, b, g] = angles;
  const [sa, ca, sb, cb, sg, cg] = [Math.sin(a), Math.cos(a), Math.sin(b), Math.cos(b), Math.sin(g), Math.cos(g)];
  return [
    cg * cb, cg * sb * sa - sg * ca, cg * sb * ca + sg * sa,
    sg * cb, sg * sb * sa + cg * ca, sg * sb * ca - cg * sa,
    -sb, cb * sa, cb * ca,
  ];
}

/** The angles (alpha, beta, gamma) of a rotation matrix R = Rz Ry Rx (beta in [-pi/2, pi/2]). */
export function anglesOf(r: readonly number[]): [number, number, number] {
  if (r.length !== 9) throw new RangeError(`anglesOf: expected a 3x3 matrix (9 numbers), got ${r.length}`);
  const beta = Math.asin(Math.max(-1, Math.min(1, -(r[6] as number))));
  return [Math.atan2(r[7] as number, r[8] as number), beta, Math.atan2(r[3] as number, r[0] as number)];
}

/** The 4x4 world matrix (row-major) of T(p) = R (p - c) + c + t. */
export function rigidMatrix(p: RigidParameters, centre: Vec3): number[] {
  const r = rotationMatrix(p.angles);
  const out = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  for (let i = 0; i < 3; i++) {
    let rc = 0;
    for (let j = 0; j < 3; j++) {
      out[4 * i + j] = r[3 * i + j] as number;
      rc += (r[3 * i + j] as number) * (centre[j] as number);
    }
    out[4 * i + 3] = (centre[i] as number) - rc + (p.translation[i] as number);
  }
  return out;
}

/** The upper-left 3x3 block of a 4x4 row-major matrix. */
export function linearPart(m: readonly number[]): number[] {
  return [0, 1, 2, 4, 5, 6, 8, 9, 10].map((k) => m[k] as number);
}

/** Parameters of a rigid 4x4 matrix about `centre` (the inverse of rigidMatrix). */
export function parametersOf(m: readonly number[], centre: Vec3): RigidParameters {
  const r = linearPart(m);
  const angles = anglesOf(r);
  const translation = [0, 1, 2].map((i) => {
    let rc = 0;
    for (let j = 0; j < 3; j++) rc += (r[3 * i + j] as number) * (centre[j] as number);
    return (m[4 * i + 3] as number) - (centre[i] as number) + rc;
  });
  return { angles, translation: translation as unknown as Vec3 };
}

/** The angle (radians) of the rotation R1 R2^T: how far apart two rotations are. */
export function rotationDistance(r1: readonly number[], r2: readonly number[]): number {
  let trace = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) trace += (r1[3 * i + k] as number) * (r2[3 * i + k] as number);
  return Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2)));
}

/**
 * The rotation matrix [3, 3] (same formula as rotationMatrix) from a [3] tensor of angles in
 * radians; differentiable.
 */
export function rotationMatrixTensor(angles: T.Tensor): T.Tensor {
  if (angles.shape.length !== 1 || angles.shape[0] !== 3) throw new RangeError(`rotationMatrixTensor: angles must be [3], got [${angles.shape.join(", ")}]`);
  return T.tidy(() => {
    const s = angles.sin();
    const c = angles.cos();
    const [sa, sb, sg] = [s.select(0, 0), s.select(0, 1), s.select(0, 2)];
    const [ca, cb, cg] = [c.select(0, 0), c.select(0, 1), c.select(0, 2)];
    const elements = [
      cg.mul(cb), cg.mul(sb).mul(sa).sub(sg.mul(ca)), cg.mul(sb).mul(ca).add(sg.mul(sa)),
      sg.mul(cb), sg.mul(sb).mul(sa).add(cg.mul(ca)), sg.mul(sb).mul(ca).sub(cg.mul(sa)),
      sb.neg(), cb.mul(sa), cb.mul(ca),
    ];
    return T.stack(elements).reshape(3, 3);
  });
}
