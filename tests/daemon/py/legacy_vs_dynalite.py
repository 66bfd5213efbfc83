"""Differential check of DynamoDB's legacy parameters: keystoned against dynalite.

Sends the same requests (ScanFilter with every operator, argument type and
attribute shape; Expected on writes; AttributeUpdates with every action and
value type; KeyConditions, QueryFilter, AttributesToGet, ConditionalOperator,
and malformed forms of each) to two endpoints and compares outcomes: the
items returned, the item written, the error code and message. dynalite is a
reimplementation checked against DynamoDB; where it departs from DynamoDB's
documented or observed behaviour the difference is counted as explained
(EXPLAINED below) rather than as a failure.

Run by hand (dynalite comes from npm, which CI does not have):
  node .../dynalite/cli.js --port 4567 --createTableMs 0 &
  keystoned --config ... &   # listening on 8000
  /usr/bin/python3 legacy_vs_dynalite.py http://127.0.0.1:8000 http://127.0.0.1:4567
Exits 1 when any difference is unexplained.
"""

import json
import sys
import time

import boto3
from botocore.exceptions import ClientError

# Differences where Keystone follows DynamoDB and dynalite does not.
EXPLAINED = {
    "one-condition-operator":
        "ConditionalOperator beside fewer than two conditions: DynamoDB refuses it "
        "(\"ConditionalOperator can only be used when Filter or Expected has two or more "
        "elements\"); dynalite accepts it",
    "exists-true-value":
        "Expected {Exists: true, Value: v}: DynamoDB compares the value; dynalite only checks "
        "that the attribute exists",
    "list-equality":
        "Expected {Value: [list]}: DynamoDB compares lists by value; dynalite never finds them "
        "equal",
    "expected-argument-type":
        "Expected with a ComparisonOperator and a list, map, BOOL or NULL argument: DynamoDB "
        "documents scalars and sets only; dynalite evaluates it",
    "select-with-attributes-to-get":
        "Select other than SPECIFIC_ATTRIBUTES with AttributesToGet: DynamoDB refuses it; "
        "dynalite ignores Select",
    "specific-attributes-alone":
        "Select SPECIFIC_ATTRIBUTES with nothing to select: Keystone refuses it; dynalite "
        "returns whole items",
    "set-order":
        "a set's members in another order (sets are unordered)",
}


def client(url):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y")


ITEMS = [
    {"pk": {"S": "p"}, "sk": {"N": "1"}, "s": {"S": "apple"}, "n": {"N": "5"},
     "ss": {"SS": ["a", "b"]}, "l": {"L": [{"S": "x"}, {"N": "1"}]}, "b": {"B": b"\x00\x01"},
     "m": {"M": {"a": {"S": "x"}}}},
    {"pk": {"S": "p"}, "sk": {"N": "2"}, "s": {"S": "banana"}, "n": {"N": "10"},
     "ss": {"SS": ["c"]}, "ns": {"NS": ["1", "2"]}},
    {"pk": {"S": "p"}, "sk": {"N": "3"}, "s": {"S": "cherry"}, "n": {"N": "7.5"},
     "l": {"L": []}},
    {"pk": {"S": "p"}, "sk": {"N": "4"}, "other": {"BOOL": True}, "n": {"S": "5"}},
    {"pk": {"S": "p"}, "sk": {"N": "5"}, "s": {"S": "apricot"}, "n": {"N": "-1"},
     "nul": {"NULL": True}, "b": {"B": b"\x01"}},
]
VALUES = [{"S": "apple"}, {"S": "a"}, {"S": "an"}, {"N": "5"}, {"N": "7.5"}, {"B": b"\x00"},
          {"B": b"\x01"}, {"SS": ["a", "b"]}, {"SS": ["a"]}, {"NS": ["1", "2"]}, {"L": []},
          {"M": {"a": {"S": "x"}}}, {"BOOL": True}, {"NULL": True}, {"S": "x"}]
ATTRIBUTES = ["s", "n", "ss", "l", "b", "m", "nul", "ns", "missing", "other"]


class Checker:
    def __init__(self, keystone, dynalite):
        self.k, self.d = keystone, dynalite
        self.table = "legacy%d" % int(time.time() * 1000)
        self.total = 0
        self.explained = {}
        self.unexplained = 0
        for c in (self.k, self.d):
            c.create_table(TableName=self.table,
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "N"}],
                           BillingMode="PAY_PER_REQUEST")
        for i in range(len(ITEMS)):
            self.reset(i)

    def reset(self, i):
        for c in (self.k, self.d):
            c.put_item(TableName=self.table, Item=ITEMS[i])

    def outcome(self, c, op, **kw):
        try:
            if op == "batch_get_item":
                r = c.batch_get_item(RequestItems={self.table: kw})
                return ("ok", json.dumps(r["Responses"], sort_keys=True, default=str))
            r = getattr(c, op)(TableName=self.table, **kw)
            if "Items" in r:
                return ("ok", sorted(json.dumps(i, sort_keys=True, default=str)
                                     for i in r["Items"]), r.get("Count"))
            return ("ok", json.dumps({k: v for k, v in r.items() if k != "ResponseMetadata"},
                                     sort_keys=True, default=str))
        except ClientError as e:
            # DynamoDB (and Keystone) prefix some messages with "1 validation
            # error detected: "; dynalite does not.
            message = e.response["Error"]["Message"].replace("1 validation error detected: ", "")
            return ("err", e.response["Error"]["Code"], message)

    def item(self, c, i):
        r = c.get_item(TableName=self.table, Key={"pk": ITEMS[i]["pk"], "sk": ITEMS[i]["sk"]})
        return json.dumps(r.get("Item"), sort_keys=True, default=str)

    def check(self, description, op, explain=None, **kw):
        """Compares one request; `explain(ours, theirs)` names an EXPLAINED
        reason for a difference, or None."""
        ours, theirs = self.outcome(self.k, op, **kw), self.outcome(self.d, op, **kw)
        self.compare(description, ours, theirs, explain)
        return ours, theirs

    def compare(self, description, ours, theirs, explain=None):
        self.total += 1
        if ours == theirs:
            return
        reason = explain(ours, theirs) if explain else None
        if reason is None and "SS" in str(ours) and sorted(str(ours)) == sorted(str(theirs)):
            reason = "set-order"
        if reason:
            self.explained[reason] = self.explained.get(reason, 0) + 1
            return
        self.unexplained += 1
        print("DIFF", description)
        print("  keystone:", str(ours)[:300])
        print("  dynalite:", str(theirs)[:300])


def refused(ours, text):
    return ours[0] == "err" and text in ours[2]


def run(checker):
    c = checker
    # ScanFilter: every operator with every argument on every attribute shape.
    for attr in ATTRIBUTES:
        for op in ["EQ", "NE", "LE", "LT", "GE", "GT", "CONTAINS", "NOT_CONTAINS",
                   "BEGINS_WITH", "IN"]:
            for v in VALUES:
                f = {attr: {"ComparisonOperator": op, "AttributeValueList": [v]}}
                c.check("scan %s" % f, "scan", ScanFilter=f)
        for op in ["NULL", "NOT_NULL"]:
            f = {attr: {"ComparisonOperator": op}}
            c.check("scan %s" % f, "scan", ScanFilter=f)
        for lo, hi in [({"N": "1"}, {"N": "7.5"}), ({"S": "a"}, {"S": "b"}),
                       ({"B": b"\x00"}, {"B": b"\x01"})]:
            f = {attr: {"ComparisonOperator": "BETWEEN", "AttributeValueList": [lo, hi]}}
            c.check("scan %s" % f, "scan", ScanFilter=f)

    # Expected on UpdateItem (no changes), on each item.
    forms = []
    for attr in ["s", "n", "ss", "missing", "nul", "l"]:
        forms.append({attr: {"Exists": False}})
        for v in [{"S": "apple"}, {"N": "5"}, {"SS": ["a", "b"]},
                  {"L": [{"S": "x"}, {"N": "1"}]}, {"NULL": True}]:
            forms.append({attr: {"Value": v}})
            forms.append({attr: {"Exists": True, "Value": v}})
            forms.append({attr: {"ComparisonOperator": "EQ", "Value": v}})
        for op in ["NULL", "NOT_NULL"]:
            forms.append({attr: {"ComparisonOperator": op}})
        forms.append({attr: {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "4"}]}})
        forms.append({attr: {"ComparisonOperator": "BEGINS_WITH",
                             "AttributeValueList": [{"S": "ap"}]}})
        forms.append({attr: {"ComparisonOperator": "NOT_CONTAINS",
                             "AttributeValueList": [{"S": "a"}]}})
        forms.append({attr: {"ComparisonOperator": "IN",
                             "AttributeValueList": [{"S": "apple"}, {"S": "x"}]}})
        forms += [{attr: {}}, {attr: {"Exists": True}},
                  {attr: {"Exists": False, "Value": {"S": "x"}}},
                  {attr: {"Exists": True, "ComparisonOperator": "EQ", "Value": {"S": "x"}}},
                  {attr: {"AttributeValueList": [{"S": "x"}]}},
                  {attr: {"ComparisonOperator": "EQ"}},
                  {attr: {"ComparisonOperator": "NULL", "Value": {"S": "x"}}},
                  {attr: {"Value": {"S": "x"}, "AttributeValueList": [{"S": "x"}],
                          "ComparisonOperator": "EQ"}}]

    def explain_expected(form):
        entry = list(form.values())[0]

        def explain(ours, theirs):
            if entry.get("Exists") is True and "Value" in entry:
                return "exists-true-value"
            value = entry.get("Value") or {}
            if "ComparisonOperator" in entry and set(value) & {"L", "M", "BOOL", "NULL"}:
                return "expected-argument-type"
            if "L" in value and "ComparisonOperator" not in entry:
                return "list-equality"
            return None
        return explain

    for i in range(len(ITEMS)):
        key = {"pk": ITEMS[i]["pk"], "sk": ITEMS[i]["sk"]}
        for form in forms:
            c.check("update %d %s" % (i, form), "update_item", explain_expected(form),
                    Key=key, Expected=form)
            c.check("update %d %s with OR" % (i, form), "update_item",
                    lambda ours, theirs: "one-condition-operator"
                    if refused(ours, "two or more elements") else None,
                    Key=key, Expected=form, ConditionalOperator="OR")
        for first, second in [(forms[0], forms[40]), (forms[2], forms[75])]:
            both = dict(first)
            both.update(second)
            for operator in ["AND", "OR"]:
                c.check("update %d %s %s" % (i, both, operator), "update_item",
                        explain_expected(first), Key=key, Expected=both,
                        ConditionalOperator=operator)

    # AttributeUpdates: every action and value type, on items and on no item.
    updates = []
    for attr in ["s", "n", "ss", "l", "ns", "missing", "b"]:
        for action in ["PUT", "ADD", "DELETE", None]:
            for v in [None, {"S": "z"}, {"N": "2"}, {"SS": ["a", "q"]}, {"NS": ["2", "3"]},
                      {"L": [{"S": "w"}]}, {"B": b"\x02"}, {"BS": [b"\x01"]},
                      {"M": {"k": {"N": "1"}}}, {"NULL": True}, {"BOOL": False}]:
                u = {}
                if action:
                    u["Action"] = action
                if v is not None:
                    u["Value"] = v
                updates.append({attr: u})
    for i in [0, 1, 3]:
        key = {"pk": ITEMS[i]["pk"], "sk": ITEMS[i]["sk"]}
        for u in updates:
            c.reset(i)
            ours, theirs = c.check("attribute updates %d %s" % (i, u), "update_item", Key=key,
                                   AttributeUpdates=u, ReturnValues="ALL_NEW")
            if ours[0] == "ok" and theirs[0] == "ok":
                c.compare("stored after %d %s" % (i, u), ("ok", c.item(c.k, i)),
                          ("ok", c.item(c.d, i)))
        c.reset(i)
    absent = {"pk": {"S": "absent"}, "sk": {"N": "1"}}
    for u in updates[:44]:
        for cl in (c.k, c.d):
            cl.delete_item(TableName=c.table, Key=absent)
        c.check("attribute updates on no item %s" % u, "update_item", Key=absent,
                AttributeUpdates=u, ReturnValues="ALL_NEW")
    for cl in (c.k, c.d):
        cl.delete_item(TableName=c.table, Key=absent)

    # Query.
    pk = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}}
    for op in ["EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN", "NE", "IN", "NULL",
               "CONTAINS"]:
        for values in [[{"N": "3"}], [{"N": "2"}, {"N": "4"}], []]:
            conditions = dict(pk)
            conditions["sk"] = {"ComparisonOperator": op, "AttributeValueList": values}
            for forward in [True, False]:
                c.check("query %s %s" % (conditions, forward), "query",
                        KeyConditions=conditions, ScanIndexForward=forward)
    one_condition = lambda ours, theirs: ("one-condition-operator"  # noqa: E731
                                          if refused(ours, "ConditionalOperator") else None)
    for kw, explain in [
            (dict(KeyConditions={}), None),
            (dict(KeyConditions={"sk": {"ComparisonOperator": "EQ",
                                        "AttributeValueList": [{"N": "1"}]}}), None),
            (dict(KeyConditions={"pk": {"ComparisonOperator": "BEGINS_WITH",
                                        "AttributeValueList": [{"S": "p"}]}}), None),
            (dict(KeyConditions=pk, QueryFilter={"sk": {"ComparisonOperator": "NOT_NULL"}}),
             None),
            (dict(KeyConditions=pk, QueryFilter={"s": {"ComparisonOperator": "NOT_NULL"}},
                  ConditionalOperator="OR"), one_condition),
            (dict(KeyConditions=pk, QueryFilter={"s": {"ComparisonOperator": "NOT_NULL"},
                                                 "n": {"ComparisonOperator": "NULL"}},
                  ConditionalOperator="OR"), None),
            (dict(KeyConditions=pk, AttributesToGet=["s", "sk"]), None),
            (dict(KeyConditions=pk, AttributesToGet=["s", "s"]), None),
            (dict(KeyConditions=pk, AttributesToGet=["s"], Select="ALL_ATTRIBUTES"),
             lambda o, t: "select-with-attributes-to-get"),
            (dict(KeyConditions=pk, AttributesToGet=["s"], Select="SPECIFIC_ATTRIBUTES"), None),
            (dict(KeyConditions=pk, Select="SPECIFIC_ATTRIBUTES"),
             lambda o, t: "specific-attributes-alone"),
            (dict(KeyConditions=pk, Select="COUNT",
                  QueryFilter={"s": {"ComparisonOperator": "NULL"}}), None),
            (dict(KeyConditions=pk, FilterExpression="attribute_exists(s)"), None),
            (dict(KeyConditions=pk, ProjectionExpression="s"), None),
            (dict(KeyConditions=pk, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "p"}}), None),
            (dict(KeyConditions=pk, ExpressionAttributeValues={":p": {"S": "p"}}), None),
            (dict(KeyConditions=pk, ExpressionAttributeNames={"#p": "p"}), None),
            (dict(KeyConditions=pk, ConditionalOperator="AND"), one_condition),
            (dict(KeyConditions=pk, QueryFilter={"s": {"ComparisonOperator": "NOT_NULL"}},
                  FilterExpression="attribute_exists(s)"), None),
            (dict(KeyConditions=pk, Limit=2), None)]:
        c.check("query %s" % kw, "query", explain, **kw)

    # Scan, GetItem, BatchGetItem, PutItem and DeleteItem.
    for kw, explain in [
            (dict(AttributesToGet=["s", "n"]), None),
            (dict(ConditionalOperator="OR"), one_condition),
            (dict(ScanFilter={}, ConditionalOperator="OR"), one_condition),
            (dict(ScanFilter={"s": {"ComparisonOperator": "NULL"}}, ConditionalOperator="OR"),
             one_condition),
            (dict(ScanFilter={"s": {"ComparisonOperator": "NULL"}},
                  ExpressionAttributeValues={":a": {"S": "a"}}), None),
            (dict(AttributesToGet=["s"], ProjectionExpression="s"), None),
            (dict(ScanFilter={"s": {"ComparisonOperator": "IN",
                                    "AttributeValueList": [{"S": "a"}, {"N": "1"}]}}), None),
            (dict(ScanFilter={"s": {"ComparisonOperator": "BETWEEN",
                                    "AttributeValueList": [{"S": "b"}, {"S": "a"}]}}), None),
            (dict(ScanFilter={"s": {"ComparisonOperator": "BETWEEN",
                                    "AttributeValueList": [{"S": "b"}]}}), None),
            (dict(ScanFilter={"s": {"ComparisonOperator": "NULL",
                                    "AttributeValueList": [{"S": "b"}]}}), None),
            (dict(ScanFilter={"s": {"ComparisonOperator": "EQ", "AttributeValueList": []}}),
             None)]:
        c.check("scan %s" % kw, "scan", explain, **kw)
    key = {"pk": ITEMS[0]["pk"], "sk": ITEMS[0]["sk"]}
    for kw in [dict(Key=key, AttributesToGet=["s", "n", "missing"]),
               dict(Key=key, AttributesToGet=["s", "s"]),
               dict(Key=key, AttributesToGet=["s"], ProjectionExpression="s")]:
        c.check("get %s" % kw, "get_item", **kw)
    for spec in [dict(Keys=[key], AttributesToGet=["s"]),
                 dict(Keys=[key], AttributesToGet=["s"], ProjectionExpression="n")]:
        c.check("batch get %s" % spec, "batch_get_item", **spec)
    for form in forms[:20]:
        c.reset(0)
        c.check("put %s" % form, "put_item", explain_expected(form), Item=ITEMS[0],
                Expected=form)
        c.reset(0)
        c.check("delete %s" % form, "delete_item", explain_expected(form), Key=key,
                Expected=form, ReturnValues="ALL_OLD")
    c.reset(0)
    c.check("put mixed", "put_item", Item=ITEMS[0], Expected={"s": {"Exists": False}},
            ConditionExpression="attribute_exists(s)")
    c.check("put names", "put_item", Item=ITEMS[0],
            Expected={"s": {"Value": {"S": "apple"}}}, ExpressionAttributeNames={"#a": "a"})
    c.check("put values", "put_item", Item=ITEMS[0],
            Expected={"s": {"Value": {"S": "apple"}}}, ExpressionAttributeValues={":a": {"S": "a"}})


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    checker = Checker(client(sys.argv[1]), client(sys.argv[2]))
    run(checker)
    print("%d requests: %d agree, %d differ as explained, %d differ unexplained" % (
        checker.total, checker.total - sum(checker.explained.values()) - checker.unexplained,
        sum(checker.explained.values()), checker.unexplained))
    for reason, count in sorted(checker.explained.items()):
        print("  %4d  %s" % (count, EXPLAINED[reason]))
    return 1 if checker.unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
