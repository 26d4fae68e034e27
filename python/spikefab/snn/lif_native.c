/* spikefab: the float LIF recurrence and its surrogate-gradient backward (snn/native.py).
 *
 * Arrays are float32, [steps, stride] row-major; a call works on neurons 0 .. n-1 of every row
 * (the caller offsets the pointers to split the neurons across threads). Built with
 * -ffp-contract=off: every + - * / is one IEEE-754 rounding in the order written, exactly the
 * operations of the eager kernel in snn/fused.py, so spikes, membranes and gradients equal
 * PyTorch's bit for bit.
 */
#include <math.h>

void sf_lif_forward(const float *cur, int const_cur, long steps, long n, long stride,
                    float beta, float theta, int zero, float *restrict spk,
                    float *restrict xs, float *restrict vs, float *restrict v)
{
    for (long t = 0; t < steps; t++) {
        const float *restrict c = const_cur ? cur : cur + t * stride;
        float *restrict x = xs + t * stride;
        float *restrict s = spk + t * stride;
        float *restrict vt = zero ? vs + t * stride : v; /* v before the reset */
        if (t == 0)
            for (long i = 0; i < n; i++)
                vt[i] = c[i];
        else if (beta != 1.0f)
            for (long i = 0; i < n; i++) {
                float m = v[i] * beta;
                vt[i] = m + c[i];
            }
        else
            for (long i = 0; i < n; i++)
                vt[i] = v[i] + c[i];
        for (long i = 0; i < n; i++) {
            float xi = vt[i] - theta;
            x[i] = xi;
            s[i] = xi >= 0.0f ? 1.0f : 0.0f;
        }
        if (t == steps - 1)
            break; /* the last reset is never read */
        if (zero)
            for (long i = 0; i < n; i++)
                v[i] = vt[i] * (1.0f - s[i]);
        else
            for (long i = 0; i < n; i++) {
                float r = theta * s[i]; /* exact: s is 0 or 1 */
                v[i] = vt[i] - r;
            }
    }
}

static inline float surrogate_den(float x, float slope)
{
    float d = fabsf(x) * slope;
    d = d + 1.0f;
    return d * d; /* (1 + slope |x|)^2 as a product, like torch's pow(2) */
}

void sf_lif_backward(const float *grad_s, const float *xs, const float *vs, long steps, long n,
                     long stride, float beta, float theta, float slope, int const_cur,
                     float *restrict grad_i, float *restrict gv, float *restrict gvp)
{
    /* grad_i: [steps, stride], or [stride] (the sum over steps, from the last step down) for
     * a constant current; gv, gvp: scratch of n floats. */
    for (long t = steps - 1; t >= 0; t--) {
        const float *restrict x = xs + t * stride;
        const float *restrict g = grad_s + t * stride;
        float *restrict out = const_cur ? (t == steps - 1 ? grad_i : gv) : grad_i + t * stride;
        if (t == steps - 1)
            for (long i = 0; i < n; i++)
                out[i] = g[i] / surrogate_den(x[i], slope);
        else if (!vs) /* subtract reset */
            for (long i = 0; i < n; i++) {
                float gx = theta != 1.0f ? gvp[i] * theta : gvp[i];
                gx = g[i] - gx;
                gx = gx / surrogate_den(x[i], slope);
                out[i] = gvp[i] + gx;
            }
        else { /* zero reset */
            const float *restrict vt = vs + t * stride;
            for (long i = 0; i < n; i++) {
                float gx = gvp[i] * vt[i];
                gx = g[i] - gx;
                gx = gx / surrogate_den(x[i], slope);
                float k = gvp[i] * (x[i] < 0.0f ? 1.0f : 0.0f);
                out[i] = k + gx;
            }
        }
        if (const_cur && t < steps - 1)
            for (long i = 0; i < n; i++)
                grad_i[i] = grad_i[i] + gv[i];
        if (t)
            for (long i = 0; i < n; i++)
                gvp[i] = beta != 1.0f ? out[i] * beta : out[i];
    }
}
