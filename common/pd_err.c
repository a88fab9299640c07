#include "pd_err.h"

const char *pd_strerror(int rc)
{
    switch (rc) {
    case PD_OK: return "OK";
    case PD_ENOMEM: return "ENOMEM";
    case PD_EIO: return "EIO";
    case PD_ETIMEDOUT: return "ETIMEDOUT";
    case PD_EPROTO: return "EPROTO";
    case PD_ECONFLICT: return "ECONFLICT";
    case PD_EINVAL: return "EINVAL";
    case PD_ENOTFOUND: return "ENOTFOUND";
    case PD_ETOOBIG: return "ETOOBIG";
    case PD_EAUTH: return "EAUTH";
    case PD_ECONNECT: return "ECONNECT";
    case PD_EBUSY: return "EBUSY";
    default: return "EUNKNOWN";
    }
}
