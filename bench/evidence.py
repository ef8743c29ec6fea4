"""Speed and memory of the AWS evidence analyser on a large account.

    .venv/bin/python bench/evidence.py [--roles 2000] [--policies 5000] [--seed 7]

Synthesises an ``aws iam get-account-authorization-details`` file (roles with
inline and attached policies, trust policies, instance profiles; managed policies
with several versions; users and groups), then analyses one principal in a fresh
subprocess, so that time and peak RSS are the analysis's own: reading and parsing
the file, loading the IAM action list, evaluating every rule. The principal may
assume a few hundred of the roles (a wildcard ``sts:AssumeRole``), so the
assume-role chain is followed through all of them.

Prints the figures and exits 1 when a target is missed: at most 2 s and 300 MiB.
The time target is checked against the analysis's CPU time (user + system): the
analysis is single-threaded and reads one file, so on an idle machine CPU and wall
time agree, while on a shared one wall time mostly measures the neighbours. Both are
printed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
TARGET_SECONDS = 2.0
TARGET_MIB = 300
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/agents/agent-0042"

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:List*",
    "s3:Get*",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:*",
    "ec2:Describe*",
    "ec2:StartInstances",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sns:Publish",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "lambda:InvokeFunction",
    "cloudwatch:PutMetricData",
    "athena:StartQueryExecution",
    "glue:GetTable",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "iam:GetRole",
    "iam:List*",
    "events:PutEvents",
    "states:StartExecution",
]


def _statement(rng: random.Random, index: int) -> dict[str, Any]:
    actions = rng.sample(ACTIONS, rng.randint(1, 5))
    resource: Any = rng.choice(
        [
            "*",
            f"arn:aws:s3:::bucket-{index % 97}/*",
            [f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/t{index % 53}", "arn:aws:s3:::shared"],
            f"arn:aws:sqs:eu-west-1:{ACCOUNT}:queue-{index % 31}",
        ]
    )
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if rng.random() < 0.08:
        statement = {"Effect": "Deny", "Action": ["iam:*", "organizations:*"], "Resource": "*"}
    if rng.random() < 0.05:
        statement["Condition"] = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    return statement


def _document(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [_statement(rng, index * 7 + n) for n in range(rng.randint(2, 6))],
    }


def synthesise(roles: int, policies: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    policy_list = []
    for index in range(policies):
        versions = rng.randint(1, 4)
        default = rng.randint(1, versions)
        policy_list.append(
            {
                "PolicyName": f"policy-{index:05d}",
                "PolicyId": f"ANPA{index:016d}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:policy/policy-{index:05d}",
                "Path": "/",
                "DefaultVersionId": f"v{default}",
                "AttachmentCount": 1,
                "IsAttachable": True,
                "PolicyVersionList": [
                    {
                        "VersionId": f"v{v}",
                        "IsDefaultVersion": v == default,
                        "CreateDate": "2025-10-02T09:00:00Z",
                        "Document": _document(rng, index * 5 + v),
                    }
                    for v in range(versions, 0, -1)
                ],
            }
        )
    role_list = []
    for index in range(roles):
        is_app = index % 5 == 0  # every fifth role is app-*: the principal may assume those
        name = f"app-{index:04d}" if is_app else f"svc-{index:04d}"
        path = "/agents/" if index == 42 else "/"
        if index == 42:
            name = "agent-0042"
        trusted: Any = (
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
            if is_app
            else {"Service": rng.choice(["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"])}
        )
        inline = [
            {"PolicyName": f"inline-{index}-{n}", "PolicyDocument": _document(rng, index + n)}
            for n in range(rng.randint(1, 2))
        ]
        if index == 42:
            inline.append(
                {
                    "PolicyName": "pick-an-app",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Resource": f"arn:aws:iam::{ACCOUNT}:role/app-*",
                            }
                        ],
                    },
                }
            )
        attached = [
            {
                "PolicyName": f"policy-{p:05d}",
                "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/policy-{p:05d}",
            }
            for p in rng.sample(range(policies), rng.randint(2, 4))
        ]
        role_list.append(
            {
                "Path": path,
                "RoleName": name,
                "RoleId": f"AROA{index:016d}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
                "CreateDate": "2025-09-01T12:00:00Z",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": trusted, "Action": "sts:AssumeRole"}
                    ],
                },
                "InstanceProfileList": (
                    [{"InstanceProfileName": f"profile-{index}"}] if index % 7 == 0 else []
                ),
                "RolePolicyList": inline,
                "AttachedManagedPolicies": attached,
                "Tags": [{"Key": "team", "Value": f"team-{index % 40}"}],
            }
        )
    groups = [
        {
            "GroupName": f"group-{g}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:group/group-{g}",
            "GroupPolicyList": [
                {"PolicyName": f"group-inline-{g}", "PolicyDocument": _document(rng, g)}
            ],
            "AttachedManagedPolicies": [],
        }
        for g in range(30)
    ]
    users = [
        {
            "UserName": f"user-{u:03d}",
            "UserId": f"AIDA{u:016d}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/user-{u:03d}",
            "UserPolicyList": [],
            "GroupList": [f"group-{u % 30}"],
            "AttachedManagedPolicies": [],
        }
        for u in range(200)
    ]
    return {
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": role_list,
        "Policies": policy_list,
    }


MEASURE = """
import json, resource, sys, time
started = time.perf_counter()
cpu_started = time.process_time()
from assessments import evidence
files = [evidence.load_path(sys.argv[1])]
analysis = evidence.analyse("aws", files, sys.argv[2])
cpu = time.process_time() - cpu_started
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": cpu, "wall": wall, "mib": peak,
                  "proposals": {p.key: p.value for p in analysis.proposals}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "account-authorization-details.json"
        path.write_text(json.dumps(synthesise(args.roles, args.policies, args.seed)))
        size = path.stat().st_size / 1024 / 1024
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", MEASURE, str(path), PRINCIPAL],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    figures = json.loads(done.stdout)
    print(
        f"{args.roles} roles, {args.policies} policies ({size:.1f} MiB): "
        f"{figures['seconds']:.2f} s CPU ({figures['wall']:.2f} s wall), "
        f"peak {figures['mib']:.0f} MiB "
        f"(targets {TARGET_SECONDS:.0f} s, {TARGET_MIB} MiB)"
    )
    print("proposals: " + ", ".join(sorted(figures["proposals"])))
    missed = []
    if figures["seconds"] > TARGET_SECONDS:
        missed.append(f"CPU time {figures['seconds']:.2f} s > {TARGET_SECONDS} s")
    if figures["mib"] > TARGET_MIB:
        missed.append(f"memory {figures['mib']:.0f} MiB > {TARGET_MIB} MiB")
    if missed:
        print("target missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
