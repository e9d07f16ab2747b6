/* Body of the native kernels, included once per floating type by kernels.c with REAL (float or double)
 * and SFX (the name suffix: _f32 or _f64) defined. Every kernel runs one thread and repeats, operation by
 * operation, what the pure PyTorch path of the same name computes (the reference), so the two agree to
 * float rounding. Shape letters: M strokes, E entries, P canvas pixels, C channels. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

#ifndef ROW_CHUNK
#define ROW_CHUNK 64
#endif

static inline REAL FN(clamp)(REAL v, REAL lo, REAL hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* torch.lerp on the CPU: self + w (end - self) for |w| < 0.5, end - (end - self) (1 - w) otherwise. */
static inline REAL FN(lerp)(REAL self, REAL end, REAL w) {
    return (w < (REAL)0.5 && w > (REAL)-0.5) ? self + w * (end - self) : end - (end - self) * ((REAL)1 - w);
}

/* ---------------------------------------------------------------------------------------------------------
 * bezier13 coverage (common/renderers/bezier13.py: _coverage_entries + _polished_alpha, per pixel).
 *
 * geo (M, 10): p0x p0y p1x p1y p2x p2y rad0 rad2 op0 op2 in pixels; chord (M, 13, 2): the seed polyline's
 * S + 1 points; segs (M,): S; reach (M,): the bound under which a pixel may be covered; box (M, 4): y0 x0 y1
 * x1, half-open pixel ranges relative to the region whose top-left pixel is (oy, ox); base (M,) and stride:
 * an entry's pix is base[i] + y * stride + x (y, x relative to the region).
 * Writes the entries of covered pixels (coverage c > 0), stroke by stroke, row-major inside a box: stroke,
 * pix, y and x (int32, relative to the region), alpha, t0 (the polished closest-point parameter) and inner
 * (1 where the implicit-derivative Newton step applies). Returns E, or -1 when more than cap entries would
 * be written.
 *
 * Work skipped, without changing any entry: on each box row only the pixels inside the hull of the row's
 * intersections with the chords' bands |n . (p - a)| <= R (R = max radius + reach + 1 px, clipped to the
 * chord's box grown by R) are searched: elsewhere every chord is farther than R, so d - r >= reach and the
 * reference drops the pixel. A row is processed in chunks of ROW_CHUNK pixels, each step over all of them
 * (branch-free, so the compiler vectorises the pixel loops).
 */
int64_t FN(b13_cover)(int64_t m, const REAL *geo, const REAL *chord, const int64_t *segs, const REAL *reach,
                      const int64_t *box, const int64_t *base, int64_t stride, int64_t oy, int64_t ox,
                      int64_t newton_steps, int64_t cap, int64_t *out_stroke, int64_t *out_pix,
                      int32_t *out_y, int32_t *out_x, REAL *out_alpha, REAL *out_t0, REAL *out_inner) {
    int64_t e = 0;
    REAL cx[16], cy[16], dx[16], dy[16], len2[16];
    for (int64_t i = 0; i < m; ++i) {
        const REAL *g = geo + 10 * i;
        const REAL p0x = g[0], p0y = g[1], p1x = g[2], p1y = g[3], p2x = g[4], p2y = g[5];
        const REAL rad0 = g[6], rad2 = g[7], op0 = g[8], op2 = g[9];
        const int64_t s_count = segs[i];
        const REAL *ch = chord + 26 * i;
        const REAL drd = rad2 - rad0, dop = op2 - op0, lim = (REAL)(1.0 / (double)s_count);
        const REAL ax = p0x - 2 * p1x + p2x, ay = p0y - 2 * p1y + p2y, bx = p1x - p0x, by = p1y - p0y;
        const double big_r = (double)(rad0 > rad2 ? rad0 : rad2) + (double)reach[i] + 1.0;
        for (int64_t k = 0; k < s_count; ++k) {
            cx[k] = ch[2 * k];
            cy[k] = ch[2 * k + 1];
            dx[k] = ch[2 * k + 2] - cx[k];
            dy[k] = ch[2 * k + 3] - cy[k];
            REAL l2 = dx[k] * dx[k] + dy[k] * dy[k];
            len2[k] = l2 < (REAL)1e-12 ? (REAL)1e-12 : l2;
        }
        const int64_t *bx_ = box + 4 * i;
        for (int64_t yy = bx_[0]; yy < bx_[2]; ++yy) {
            const REAL ys = (REAL)(yy + oy) + (REAL)0.5;
            /* the row's candidate span: hull of the chord bands on this row */
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t k = 0; k < s_count; ++k) {
                const double ax_ = cx[k], ay_ = cy[k], bx2 = cx[k] + dx[k], by2 = cy[k] + dy[k];
                const double ylo = (ay_ < by2 ? ay_ : by2) - big_r, yhi = (ay_ > by2 ? ay_ : by2) + big_r;
                if ((double)ys < ylo || (double)ys > yhi) continue;
                double xlo = (ax_ < bx2 ? ax_ : bx2) - big_r, xhi = (ax_ > bx2 ? ax_ : bx2) + big_r;
                const double ddx = dx[k], ddy = dy[k], len = sqrt(ddx * ddx + ddy * ddy);
                if (fabs(ddy) > 1e-9 * (len + 1e-30)) {
                    const double ee = (double)ys - ay_;
                    double u1 = ax_ + (ddx * ee - big_r * len) / ddy, u2 = ax_ + (ddx * ee + big_r * len) / ddy;
                    if (u1 > u2) { const double tmp = u1; u1 = u2; u2 = tmp; }
                    xlo = u1 > xlo ? u1 : xlo;
                    xhi = u2 < xhi ? u2 : xhi;
                }
                if (xlo > xhi) continue;
                lo = xlo < lo ? xlo : lo;
                hi = xhi > hi ? xhi : hi;
            }
            if (!(lo <= hi)) continue;
            int64_t xa = (int64_t)floor(lo - (double)ox - 0.5) - 1, xb = (int64_t)ceil(hi - (double)ox - 0.5) + 2;
            xa = xa < bx_[1] ? bx_[1] : xa;
            xb = xb > bx_[3] ? bx_[3] : xb;
            for (int64_t x0 = xa; x0 < xb; x0 += ROW_CHUNK) {
                const int64_t n = xb - x0 < ROW_CHUNK ? xb - x0 : ROW_CHUNK;
                REAL xs[ROW_CHUNK], best[ROW_CHUNK], tb[ROW_CHUNK], tn[ROW_CHUNK];
                REAL al[ROW_CHUNK], cv[ROW_CHUNK], inn[ROW_CHUNK];
                for (int64_t j = 0; j < n; ++j) {
                    xs[j] = (REAL)(x0 + j + ox) + (REAL)0.5;
                    best[j] = (REAL)INFINITY;
                    tb[j] = 0;
                }
                /* seed: the chord minimising distance - radius (chord loop outside: the pixel loop vectorises) */
                for (int64_t k = 0; k < s_count; ++k) {
                    const REAL ry = ys - cy[k], ry2 = ry * ry, rdy = ry * dy[k];
                    const REAL cxk = cx[k], dxk = dx[k], l2 = len2[k], kk = (REAL)k, sc = (REAL)s_count;
                    for (int64_t j = 0; j < n; ++j) {
                        const REAL rx = xs[j] - cxk;
                        const REAL dist2 = ry2 + rx * rx;
                        REAL proj = rdy + rx * dxk;
                        REAL h = proj / l2;
                        h = h < 0 ? 0 : h;
                        h = h > 1 ? 1 : h;
                        proj = (proj * 2 - h * l2) * h;
                        REAL d = dist2 - proj;
                        d = d < 0 ? 0 : d;
                        d = SQRT(d);
                        const REAL t = (h + kk) / sc;
                        const REAL v = (d - rad0) - t * drd;
                        tb[j] = best[j] > v ? t : tb[j];
                        best[j] = v < best[j] ? v : best[j];
                    }
                }
                /* Newton on phi(t) = u . v, u = C(t) - p, v = a t + b, steps clamped to one chord */
                const REAL uy0 = p0y - ys;
                for (int64_t j = 0; j < n; ++j) tn[j] = tb[j];
                for (int64_t s = 0; s < newton_steps; ++s) {
                    for (int64_t j = 0; j < n; ++j) {
                        const REAL t = tn[j], ux0 = p0x - xs[j];
                        const REAL vx = ax * t + bx, vy = ay * t + by;
                        const REAL ux = (vx + bx) * t + ux0, uy = (vy + by) * t + uy0;
                        const REAL gn = 2 * (vx * vx + vy * vy);
                        const REAL dphi = gn + ux * ax + uy * ay;
                        REAL curv = dphi > (REAL)1e-6 ? dphi : gn;
                        curv = curv < (REAL)1e-9 ? (REAL)1e-9 : curv;
                        REAL step = (ux * vx + uy * vy) / curv;
                        step = step < -lim ? -lim : step;
                        step = step > lim ? lim : step;
                        REAL tnew = t - step;
                        tnew = tnew < 0 ? 0 : tnew;
                        tn[j] = tnew > 1 ? 1 : tnew;
                    }
                }
                for (int64_t j = 0; j < n; ++j) {
                    const REAL t = tn[j], ux0 = p0x - xs[j];
                    const REAL vx = ax * t + bx, vy = ay * t + by;
                    const REAL ux = (vx + bx) * t + ux0, uy = (vy + by) * t + uy0;
                    REAL dphi = 2 * (vx * vx + vy * vy) + ux * ax + uy * ay;
                    const REAL inner = ((t > 0) & (t < 1) & (dphi > (REAL)1e-6)) ? 1 : 0;
                    /* the implicit-derivative step (a numerical no-op) and the coverage at its result */
                    dphi = dphi < (REAL)1e-6 ? (REAL)1e-6 : dphi;
                    const REAL tt = t - inner * (ux * vx + uy * vy) / dphi;
                    const REAL qx = (ax * tt + 2 * bx) * tt + ux0, qy = (ay * tt + 2 * by) * tt + uy0;
                    const REAL dist = SQRT(qx * qx + qy * qy + (REAL)1e-12);
                    REAL c = (REAL)0.5 - dist + rad0 + tt * drd;
                    c = c < 0 ? 0 : c;
                    c = c > 1 ? 1 : c;
                    cv[j] = best[j] < reach[i] ? c : 0; /* pixels the reference drops by its bound: none */
                    al[j] = (op0 + tt * dop) * c * c * (3 - 2 * c);
                    inn[j] = inner;
                }
                for (int64_t j = 0; j < n; ++j) {
                    if (!(cv[j] > 0)) continue;
                    if (e >= cap) return -1;
                    out_stroke[e] = i;
                    out_pix[e] = base[i] + yy * stride + x0 + j;
                    out_y[e] = (int32_t)yy;
                    out_x[e] = (int32_t)(x0 + j);
                    out_alpha[e] = al[j];
                    out_t0[e] = tn[j];
                    out_inner[e] = inn[j];
                    ++e;
                }
            }
        }
    }
    return e;
}

/* Gradient of the entries' alpha with respect to geo: grad_geo (M, 10) += sum over entries of
 * grad_alpha[e] * d alpha_e / d geo (the derivative of the differentiable part of the reference: the
 * implicit-derivative Newton step from t0, then distance, radius, opacity and the smoothstep edge).
 * Pixel centres are (oy + y + 0.5, ox + x + 0.5). Entries come in runs of one stroke (any order of runs);
 * each run is one vectorised loop with its sums in double. */
void FN(b13_cover_backward)(int64_t e_count, const REAL *geo, const int64_t *stroke, const int32_t *ey,
                            const int32_t *ex, const REAL *t0s, const REAL *inners, const REAL *grad_alpha,
                            int64_t oy, int64_t ox, double *grad_geo) {
    for (int64_t lo = 0; lo < e_count;) {
        const int64_t i = stroke[lo];
        int64_t hi = lo + 1;
        while (hi < e_count && stroke[hi] == i) ++hi;
        const REAL *g = geo + 10 * i;
        const REAL p0x = g[0], p0y = g[1], p1x = g[2], p1y = g[3], p2x = g[4], p2y = g[5];
        const REAL rad0 = g[6], rad2 = g[7], op0 = g[8], op2 = g[9];
        const REAL ax = p0x - 2 * p1x + p2x, ay = p0y - 2 * p1y + p2y, bx = p1x - p0x, by = p1y - p0y;
        const double dop = (double)op2 - (double)op0, drd = (double)rad2 - (double)rad0;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0, s9 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8, s9)
        for (int64_t e = lo; e < hi; ++e) {
            const REAL xs = (REAL)(ex[e] + ox) + (REAL)0.5, ys = (REAL)(ey[e] + oy) + (REAL)0.5;
            const REAL t0 = t0s[e], inner = inners[e];
            const REAL ux0 = p0x - xs, uy0 = p0y - ys;
            /* forward again, as the reference computes it */
            const REAL vx = ax * t0 + bx, vy = ay * t0 + by;
            const REAL ux = (vx + bx) * t0 + ux0, uy = (vy + by) * t0 + uy0;
            const REAL dphi_raw = 2 * (vx * vx + vy * vy) + ux * ax + uy * ay;
            const REAL dphi = dphi_raw < (REAL)1e-6 ? (REAL)1e-6 : dphi_raw;
            const REAL phi = ux * vx + uy * vy;
            const REAL tt = t0 - inner * phi / dphi;
            const REAL qx = (ax * tt + 2 * bx) * tt + ux0, qy = (ay * tt + 2 * by) * tt + uy0;
            const REAL dist = SQRT(qx * qx + qy * qy + (REAL)1e-12);
            const REAL craw = (REAL)0.5 - dist + rad0 + tt * (rad2 - rad0);
            const double c = craw < 0 ? 0.0 : (craw > 1 ? 1.0 : (double)craw);
            const double o = (double)op0 + (double)tt * dop;
            /* backward, in double */
            const double gd = (double)grad_alpha[e], t = (double)tt;
            const double go = gd * c * c * (3 - 2 * c);
            const double gc = ((craw >= 0) & (craw <= 1)) ? gd * o * (6 * c - 6 * c * c) : 0.0;
            double gt = go * dop + gc * drd;
            const double gqx = -gc * qx / dist, gqy = -gc * qy / dist;
            gt += gqx * (2 * ax * t + 2 * bx) + gqy * (2 * ay * t + 2 * by);
            /* through t = t0 - inner phi / dphi (inner is 0 or 1) */
            const double gphi = -(double)inner * gt / dphi;
            const double gdphi = dphi_raw >= (REAL)1e-6 ? (double)inner * gt * phi / ((double)dphi * dphi) : 0.0;
            const double gux = gphi * vx + ax * gdphi, guy = gphi * vy + ay * gdphi;
            const double gvx = gphi * ux + 4 * vx * gdphi + t0 * gux, gvy = gphi * uy + 4 * vy * gdphi + t0 * guy;
            const double gax = gqx * t * t + ux * gdphi + t0 * gvx, gay = gqy * t * t + uy * gdphi + t0 * gvy;
            const double gbx = 2 * t * gqx + t0 * gux + gvx, gby = 2 * t * gqy + t0 * guy + gvy;
            const double gp0x = gqx + gux, gp0y = gqy + guy;
            s0 += gp0x + gax - gbx;
            s1 += gp0y + gay - gby;
            s2 += -2 * gax + gbx;
            s3 += -2 * gay + gby;
            s4 += gax;
            s5 += gay;
            s6 += gc * (1 - t);
            s7 += gc * t;
            s8 += go * (1 - t);
            s9 += go * t;
        }
        double *out = grad_geo + 10 * i;
        out[0] += s0;
        out[1] += s1;
        out[2] += s2;
        out[3] += s3;
        out[4] += s4;
        out[5] += s5;
        out[6] += s6;
        out[7] += s7;
        out[8] += s8;
        out[9] += s9;
        lo = hi;
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * curve: the no-autograd part of common/renderers/curve.py _sd_patches. For every stroke's (ph, pw) patch at
 * (r0, q0): the signed distance min_k (|p - proj_k(p)| - w(t_k(p))) over the chords whose pixel window holds
 * the pixel (chord k from pts[k] to pts[k + 1], half width interpolated linearly in t between the T samples
 * hw), and the winning chord (the highest index among exact ties). Writes the pixels with a winning chord and
 * signed distance < 0.5 (those with alpha > 0) in flat (stroke, row, column) order: sel = stroke * ph * pw +
 * row * pw + column, and the chord. Returns E. scratch: ph * pw REALs and int64s.
 */
int64_t FN(curve_select)(int64_t m, const REAL *pts, int64_t segments, const REAL *hw, int64_t n_w,
                         const int64_t *r0, const int64_t *q0, int64_t ph, int64_t pw, REAL *best,
                         int64_t *kbest, int64_t *out_sel, int64_t *out_chord) {
    int64_t e = 0;
    const int64_t area = ph * pw;
    for (int64_t i = 0; i < m; ++i) {
        const REAL *p = pts + i * (segments + 1) * 2, *w = hw + i * n_w;
        REAL wmax = w[0];
        for (int64_t j = 1; j < n_w; ++j) wmax = w[j] > wmax ? w[j] : wmax;
        const REAL reach = wmax + 1;
        for (int64_t j = 0; j < area; ++j) {
            best[j] = (REAL)1e4;
            kbest[j] = -1;
        }
        for (int64_t k = 0; k < segments; ++k) {
            const REAL ax = p[2 * k], ay = p[2 * k + 1];
            const REAL vx = p[2 * k + 2] - ax, vy = p[2 * k + 3] - ay;
            REAL vv = vx * vx + vy * vy;
            vv = vv < (REAL)1e-12 ? (REAL)1e-12 : vv;
            const REAL bx = ax + vx, by = ay + vy;
            const REAL lox = (ax < bx ? ax : bx) - reach, hix = (ax > bx ? ax : bx) + reach;
            const REAL loy = (ay < by ? ay : by) - reach, hiy = (ay > by ? ay : by) + reach;
            int64_t c0 = (int64_t)ceil((double)lox - 0.5) - q0[i], c1 = (int64_t)floor((double)hix - 0.5) - q0[i];
            int64_t y0 = (int64_t)ceil((double)loy - 0.5) - r0[i], y1 = (int64_t)floor((double)hiy - 0.5) - r0[i];
            c0 = c0 < 0 ? 0 : c0;
            y0 = y0 < 0 ? 0 : y0;
            c1 = c1 > pw - 1 ? pw - 1 : c1;
            y1 = y1 > ph - 1 ? ph - 1 : y1;
            const REAL kk = (REAL)k, sc = (REAL)segments, tw = (REAL)(n_w - 1);
            for (int64_t yy = y0; yy <= y1; ++yy) {
                const REAL uy = ((REAL)(yy + r0[i]) + (REAL)0.5) - ay;
                for (int64_t xx = c0; xx <= c1; ++xx) {
                    const REAL ux = ((REAL)(xx + q0[i]) + (REAL)0.5) - ax;
                    REAL s = (ux * vx + uy * vy) / vv;
                    s = s < 0 ? 0 : (s > 1 ? 1 : s);
                    const REAL dx = ux - s * vx, dy = uy - s * vy;
                    const REAL dist = SQRT(dx * dx + dy * dy + (REAL)1e-8);
                    const REAL pos = ((kk + s) / sc) * tw;
                    REAL lo = floor(pos);
                    lo = lo < 0 ? 0 : (lo > tw - 1 ? tw - 1 : lo);
                    const int64_t li = (int64_t)lo;
                    const REAL sd = dist - (w[li] + (w[li + 1] - w[li]) * (pos - lo));
                    const int64_t j = yy * pw + xx;
                    if (sd <= best[j]) {
                        best[j] = sd;
                        kbest[j] = k;
                    }
                }
            }
        }
        for (int64_t j = 0; j < area; ++j) {
            if (kbest[j] >= 0 && best[j] < (REAL)0.5) {
                out_sel[e] = i * area + j;
                out_chord[e] = kbest[j];
                ++e;
            }
        }
    }
    return e;
}

/* ---------------------------------------------------------------------------------------------------------
 * Box-over compositing (common/compositing.py: _OverEntries), entries in an order that paints every pixel's
 * strokes in stroke order. canvas (B, C, H, W) contiguous, painted in place; pix = b * plane + y * W + x
 * (plane = H * W); color (M, C) with stroke (E,), or (E, C) per entry when stroke is NULL; old (E, C)
 * receives the canvas value under each entry. */
static inline int64_t FN(pixel_offset)(int64_t p, int64_t plane, double inv_plane, int64_t channels) {
    int64_t b = (int64_t)((double)p * inv_plane); /* image index, corrected below: exact */
    if (b * plane > p) --b;
    else if ((b + 1) * plane <= p) ++b;
    return p + b * (channels - 1) * plane;
}

void FN(over_forward)(int64_t e_count, int64_t channels, int64_t plane, REAL *canvas, const int64_t *pix,
                      const REAL *alpha, const REAL *color, const int64_t *stroke, REAL *old) {
    const double inv = 1.0 / (double)plane;
    for (int64_t e = 0; e < e_count; ++e) {
        REAL *px = canvas + FN(pixel_offset)(pix[e], plane, inv, channels);
        const REAL *c = color + (stroke ? stroke[e] : e) * channels;
        const REAL a = alpha[e];
        for (int64_t k = 0; k < channels; ++k) {
            const REAL o = px[k * plane];
            old[e * channels + k] = o;
            px[k * plane] = FN(lerp)(o, c[k], a);
        }
    }
}

/* Reverse replay: grad (B, C, H, W) in/out (becomes dL/dcanvas), grad_alpha (E,) = sum_C g (c - old),
 * grad_color += g a (per stroke (M, C) with stroke, per entry (E, C) without); either may be NULL. */
void FN(over_backward)(int64_t e_count, int64_t channels, int64_t plane, REAL *grad, const int64_t *pix,
                       const REAL *alpha, const REAL *color, const int64_t *stroke, const REAL *old,
                       REAL *grad_alpha, REAL *grad_color) {
    const double inv = 1.0 / (double)plane;
    for (int64_t e = e_count - 1; e >= 0; --e) {
        REAL *gp = grad + FN(pixel_offset)(pix[e], plane, inv, channels);
        const int64_t ci = (stroke ? stroke[e] : e) * channels;
        const REAL a = alpha[e], keep = (REAL)1 - a;
        REAL acc = 0;
        for (int64_t k = 0; k < channels; ++k) {
            const REAL g = gp[k * plane];
            acc += (color[ci + k] - old[e * channels + k]) * g;
            if (grad_color) grad_color[ci + k] += g * a;
            gp[k * plane] = g * keep;
        }
        if (grad_alpha) grad_alpha[e] = acc;
    }
}

#undef FN
#undef CAT
#undef CAT_
