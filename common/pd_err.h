/* pd_err.h -- the one error enum every paydrill module returns.
 *
 * 0 is success; failures are negative. A declined payment, a 409 or a
 * verification failure is data in a result, not an error code. */
#ifndef PD_ERR_H
#define PD_ERR_H

enum pd_err {
    PD_OK = 0,
    PD_ENOMEM = -1,     /* allocation failed */
    PD_EIO = -2,        /* file, socket or database I/O failed */
    PD_ETIMEDOUT = -3,  /* a peer did not answer in time */
    PD_EPROTO = -4,     /* a peer answered something the protocol forbids */
    PD_ECONFLICT = -5,  /* a compare-and-set or unique claim lost */
    PD_EINVAL = -6,     /* bad argument or malformed input */
    PD_ENOTFOUND = -7,  /* no such record */
    PD_ETOOBIG = -8,    /* input over a documented limit */
    PD_EAUTH = -9,      /* signature or freshness check failed */
    PD_ECONNECT = -10,  /* could not connect to a peer */
    PD_EBUSY = -11      /* resource busy; retry later */
};

/* Returns a static, human-readable name such as "ETIMEDOUT"; never NULL. */
const char *pd_strerror(int rc);

#endif
