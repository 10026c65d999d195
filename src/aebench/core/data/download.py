"""Downloads with torchvision that fail in one line instead of hanging (CIFAR-10 and MNIST)."""
from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

STALL_TIMEOUT = 30.0  # seconds without data before a download is given up


def unreachable(url: str, timeout: float = 2.0) -> str | None:
    """None when a HEAD request to `url` gets any HTTP answer within `timeout` s, else why not.

    torchvision's download sets no timeout and would hang where packets are dropped, so we
    probe first, in a thread so that a slow DNS lookup cannot block either (proxies from the
    environment are used, as for the download itself).
    """
    result: list = []

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            result.append(None)
        except urllib.error.HTTPError:  # the server answered: reachable
            result.append(None)
        except (OSError, ValueError) as e:  # URLError, timeouts, TLS errors
            result.append(f"{urllib.parse.urlsplit(url).netloc} unreachable: {one_line(e)}")

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return result[0] if result else f"{urllib.parse.urlsplit(url).netloc} did not answer in {timeout:.0f} s"


def download(fn) -> str | None:
    """Run torchvision's download `fn`; None on success, else a one-line reason.

    A socket timeout is set meanwhile so that a stalled transfer fails instead of hanging.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(STALL_TIMEOUT)
    try:
        fn()
    except Exception as e:  # network, disk, corrupt archive: all end the same way
        return one_line(e)
    finally:
        socket.setdefaulttimeout(previous)
    return None


def one_line(e: Exception, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
