"""Creating the Kubernetes cluster itself: pure command plans per provider, a price table, a runner.

>>> from daskcloud.cluster.cloud import plan_cluster
>>> plan = plan_cluster("aws", nodes=2, instance="m5.xlarge", region="us-east-1")
>>> plan.create[0][:3]
('eksctl', 'create', 'cluster')
"""

from daskcloud.cluster.cloud._execute import execute_commands
from daskcloud.cluster.cloud._plans import CloudPlan, plan_cluster
from daskcloud.cluster.cloud._prices import (
    PROVIDERS,
    CostEstimate,
    InstanceType,
    PriceTable,
    estimate_cost,
    load_prices,
)

__all__ = [
    "PROVIDERS",
    "CloudPlan",
    "CostEstimate",
    "InstanceType",
    "PriceTable",
    "estimate_cost",
    "execute_commands",
    "load_prices",
    "plan_cluster",
]
