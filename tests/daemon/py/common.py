"""Shared setup for the boto3 integration scripts: clients for the keystoned
under test (KEYSTONE_ENDPOINT), raw HTTP requests, unique table names."""

import http.client
import json
import os
import urllib.parse
import uuid

import boto3
from botocore.config import Config

ENDPOINT = os.environ["KEYSTONE_ENDPOINT"]
REGION = "us-east-1"
ACCESS_KEY = os.environ.get("KEYSTONE_ACCESS_KEY", "dummy")
SECRET_KEY = os.environ.get("KEYSTONE_SECRET_KEY", "dummy")
CA_FILE = os.environ.get("KEYSTONE_CA_FILE")

# No retries: every error must show on the first answer.
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                read_timeout=30)


def session(access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    return boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                 region_name=REGION)


def client(service="dynamodb", **kwargs):
    return session(**kwargs).client(service, endpoint_url=ENDPOINT, config=CONFIG,
                                    verify=CA_FILE if CA_FILE else True)


def resource(**kwargs):
    return session(**kwargs).resource("dynamodb", endpoint_url=ENDPOINT, config=CONFIG,
                                      verify=CA_FILE if CA_FILE else True)


def table_name(prefix):
    return prefix + "-" + uuid.uuid4().hex[:8]


def raw_post(target, body, headers=None):
    """POSTs `body` (bytes or str) unsigned; returns (status, headers, body bytes)."""
    url = urllib.parse.urlparse(ENDPOINT)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    h = {"Content-Type": "application/x-amz-json-1.0"}
    if target is not None:
        h["X-Amz-Target"] = target
    h.update(headers or {})
    if isinstance(body, str):
        body = body.encode()
    conn.request("POST", "/", body=body, headers=h)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, {k.lower(): v for k, v in res.getheaders()}, data


def error_type(body):
    doc = json.loads(body)
    return doc["__type"].split("#")[-1]


def create_table(ddb, name, sort_key=True, stream_view=None):
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        key_schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
    kwargs = dict(TableName=name, KeySchema=key_schema, AttributeDefinitions=attrs,
                  BillingMode="PAY_PER_REQUEST")
    if stream_view:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream_view}
    ddb.create_table(**kwargs)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1,
                                                                       "MaxAttempts": 10})


def new_table(prefix):
    """A new table (pk S, sk N) named after `prefix`: its client, name and boto3 resource Table."""
    ddb = client()
    name = table_name(prefix)
    create_table(ddb, name)
    return ddb, name, resource().Table(name)
