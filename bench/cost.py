"""What a million requests cost on Lambda behind API Gateway, from a warm latency."""

from __future__ import annotations

LAMBDA_MEMORY_MB = 1769
PRICE_GB_S = 0.0000166667  # x86 Lambda, us-east-1, first tier
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_API_GATEWAY_REQUEST = 3.50 / 1e6  # REST API, first 333 million a month


def cost_per_million(ms: float) -> dict[str, float]:
    compute = (int(ms) + 1) / 1000 * LAMBDA_MEMORY_MB / 1024 * PRICE_GB_S * 1e6
    return {
        "billed_ms": int(ms) + 1,
        "lambda_compute_usd": round(compute, 2),
        "lambda_requests_usd": round(PRICE_LAMBDA_REQUEST * 1e6, 2),
        "api_gateway_usd": round(PRICE_API_GATEWAY_REQUEST * 1e6, 2),
        "total_usd": round(compute + (PRICE_LAMBDA_REQUEST + PRICE_API_GATEWAY_REQUEST) * 1e6, 2),
    }
