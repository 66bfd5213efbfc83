"""keystoned's DynamoDB and DynamoDB Streams APIs driven by Debian's boto3.

Run by keystoned_test (C++) against a keystoned it started:
  KEYSTONE_ENDPOINT=http://127.0.0.1:PORT KEYSTONE_MAX_BODY=BYTES \
      /usr/bin/python3 boto3_api_test.py
"""

import decimal
import json
import os
import sys
import time
import unittest
import zlib

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def code(err):
    return err.response["Error"]["Code"]


class TableLifecycle(unittest.TestCase):
    def test_create_describe_update_delete_with_waiters(self):
        ddb = common.client()
        name = common.table_name("life")
        common.create_table(ddb, name, stream_view="NEW_IMAGE")
        desc = ddb.describe_table(TableName=name)["Table"]
        self.assertEqual("ACTIVE", desc["TableStatus"])
        self.assertEqual(name, desc["TableName"])
        self.assertGreaterEqual(len(desc["LatestStreamArn"]), 37)
        self.assertEqual({"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                         desc["StreamSpecification"])
        self.assertIn(name, ddb.list_tables()["TableNames"])
        # Paginated ListTables sees it too.
        names = [n for page in ddb.get_paginator("list_tables").paginate(
            PaginationConfig={"PageSize": 1}) for n in page["TableNames"]]
        self.assertIn(name, names)

        # As in DynamoDB, a stream's view type changes by disabling it and
        # enabling it again, which starts a new stream (a new ARN).
        with self.assertRaises(ClientError) as cm:
            ddb.update_table(TableName=name, StreamSpecification={
                "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        self.assertEqual("ValidationException", code(cm.exception))
        off = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        self.assertNotIn("StreamSpecification", off["TableDescription"])
        updated = ddb.update_table(TableName=name, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["TableDescription"]
        self.assertEqual("KEYS_ONLY", updated["StreamSpecification"]["StreamViewType"])

        with self.assertRaises(ClientError) as cm:
            common.create_table(ddb, name)
        self.assertEqual("ResourceInUseException", code(cm.exception))

        ddb.delete_table(TableName=name)
        ddb.get_waiter("table_not_exists").wait(TableName=name,
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        with self.assertRaises(ClientError) as cm:
            ddb.describe_table(TableName=name)
        self.assertEqual("ResourceNotFoundException", code(cm.exception))


    def test_tags_and_backup_status_as_infrastructure_tools_read_them(self):
        ddb = common.client()
        name = common.table_name("tags")
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         Tags=[{"Key": "team", "Value": "cdc"}])
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        self.assertEqual([{"Key": "team", "Value": "cdc"}],
                         ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
        ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
        self.assertEqual([{"Key": "env", "Value": "prod"}],
                         ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
        with self.assertRaises(ClientError) as cm:
            ddb.tag_resource(ResourceArn=arn, Tags=[
                {"Key": "k%d" % i, "Value": "v"} for i in range(50)])
        self.assertEqual("ValidationException", code(cm.exception))
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        self.assertEqual("DISABLED", backups["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"])
        self.assertEqual([], ddb.list_backups(TableName=name)["BackupSummaries"])
        self.assertEqual(40000, ddb.describe_limits()["TableMaxReadCapacityUnits"])
        with self.assertRaises(ClientError) as cm:
            ddb.create_backup(TableName=name, BackupName="nightly")
        self.assertEqual("UnknownOperationException", code(cm.exception))
        self.assertIn("CreateBackup", cm.exception.response["Error"]["Message"])


class Crud(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ddb, cls.name, cls.table = common.new_table("crud")

    def test_conditions_and_return_values(self):
        t = self.table
        t.put_item(Item={"pk": "a", "sk": 1, "n": 1, "s": "one"})
        with self.assertRaises(ClientError) as cm:
            t.put_item(Item={"pk": "a", "sk": 1, "n": 2},
                       ConditionExpression="attribute_not_exists(pk)")
        self.assertEqual("ConditionalCheckFailedException", code(cm.exception))
        self.assertEqual(1, t.get_item(Key={"pk": "a", "sk": 1})["Item"]["n"])

        old = t.put_item(Item={"pk": "a", "sk": 1, "n": 5, "s": "five"}, ReturnValues="ALL_OLD")
        self.assertEqual({"pk": "a", "sk": 1, "n": 1, "s": "one"}, old["Attributes"])

        new = t.update_item(Key={"pk": "a", "sk": 1},
                            UpdateExpression="SET #s = :s ADD n :d",
                            ConditionExpression="n = :five",
                            ExpressionAttributeNames={"#s": "s"},
                            ExpressionAttributeValues={":s": "six", ":d": 1, ":five": 5},
                            ReturnValues="UPDATED_NEW")
        self.assertEqual({"n": 6, "s": "six"}, new["Attributes"])
        old = t.update_item(Key={"pk": "a", "sk": 1}, UpdateExpression="REMOVE s",
                            ReturnValues="ALL_OLD")
        self.assertEqual("six", old["Attributes"]["s"])
        with self.assertRaises(ClientError) as cm:
            t.update_item(Key={"pk": "a", "sk": 1}, UpdateExpression="SET n = :v",
                          ConditionExpression="n > :v",
                          ExpressionAttributeValues={":v": 100})
        self.assertEqual("ConditionalCheckFailedException", code(cm.exception))

        got = t.get_item(Key={"pk": "a", "sk": 1}, ProjectionExpression="n",
                         ConsistentRead=True)["Item"]
        self.assertEqual({"n": 6}, got)
        self.assertIsInstance(got["n"], decimal.Decimal)

        with self.assertRaises(ClientError) as cm:
            t.delete_item(Key={"pk": "a", "sk": 1}, ConditionExpression="n = :v",
                          ExpressionAttributeValues={":v": 7})
        self.assertEqual("ConditionalCheckFailedException", code(cm.exception))
        gone = t.delete_item(Key={"pk": "a", "sk": 1}, ReturnValues="ALL_OLD")
        self.assertEqual(6, gone["Attributes"]["n"])
        self.assertNotIn("Item", t.get_item(Key={"pk": "a", "sk": 1}))

    def test_all_attribute_types_round_trip(self):
        item = {"pk": "types", "sk": 0, "s": "x", "n": decimal.Decimal("-1.5E+10"),
                "b": b"\x00\x01\xff", "t": True, "z": None, "l": ["a", 1, [True]],
                "m": {"k": {"nested": "v"}}, "ss": {"a", "b"}, "ns": {1, 2},
                "bs": {b"x", b"y"}}
        self.table.put_item(Item=item)
        got = self.table.get_item(Key={"pk": "types", "sk": 0})["Item"]
        got["b"] = bytes(got["b"])
        got["bs"] = {bytes(v) for v in got["bs"]}
        self.assertEqual(item, got)

    def test_return_consumed_capacity(self):
        # DynamoDB's units, parsed by botocore: writes per 1 KB, reads per
        # 4 KB (half when eventually consistent).
        t = self.table
        big = {"pk": "cap", "sk": 1, "blob": "x" * 3000}  # 2 + 2 + 4 + 3000 + 4 = ~3 KB
        put = t.put_item(Item=big, ReturnConsumedCapacity="TOTAL")
        self.assertEqual({"TableName": self.name, "CapacityUnits": 3.0,
                          "WriteCapacityUnits": 3.0}, put["ConsumedCapacity"])
        got = t.get_item(Key={"pk": "cap", "sk": 1}, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(0.5, got["ConsumedCapacity"]["CapacityUnits"])
        self.assertEqual(0.5, got["ConsumedCapacity"]["Table"]["CapacityUnits"])
        query = t.query(KeyConditionExpression=Key("pk").eq("cap"), ConsistentRead=True,
                        ReturnConsumedCapacity="TOTAL")
        self.assertEqual(1.0, query["ConsumedCapacity"]["CapacityUnits"])
        gone = t.delete_item(Key={"pk": "cap", "sk": 1}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(3.0, gone["ConsumedCapacity"]["CapacityUnits"])
        self.assertNotIn("ConsumedCapacity", t.get_item(Key={"pk": "cap", "sk": 1}))

    def test_validation_errors(self):
        with self.assertRaises(ClientError) as cm:
            self.table.put_item(Item={"pk": "a"})  # no sort key
        self.assertEqual("ValidationException", code(cm.exception))
        with self.assertRaises(ClientError) as cm:
            self.table.get_item(Key={"pk": "a", "sk": 1}, ProjectionExpression="#missing")
        self.assertEqual("ValidationException", code(cm.exception))
        with self.assertRaises(ClientError) as cm:
            common.resource().Table("no-such-table").get_item(Key={"pk": "a"})
        self.assertEqual("ResourceNotFoundException", code(cm.exception))


class Pagination(unittest.TestCase):
    def test_query_and_scan_paginators(self):
        ddb = common.client()
        name = common.table_name("pages")
        common.create_table(ddb, name)
        table = common.resource().Table(name)
        with table.batch_writer() as batch:
            for p in ("x", "y"):
                for i in range(130):
                    batch.put_item(Item={"pk": p, "sk": i, "pad": "p" * 100, "odd": i % 2})

        pages = list(ddb.get_paginator("query").paginate(
            TableName=name, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "x"}},
            PaginationConfig={"PageSize": 7}))
        self.assertGreater(len(pages), 18)
        sks = [int(i["sk"]["N"]) for page in pages for i in page["Items"]]
        self.assertEqual(list(range(130)), sks)

        desc = [int(i["sk"]["N"]) for page in ddb.get_paginator("query").paginate(
            TableName=name, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": {"S": "y"}, ":a": {"N": "10"}, ":b": {"N": "40"}},
            ScanIndexForward=False, PaginationConfig={"PageSize": 4}) for i in page["Items"]]
        self.assertEqual(list(range(40, 9, -1)), desc)

        filtered = table.query(KeyConditionExpression=Key("pk").eq("x") & Key("sk").lt(20),
                               FilterExpression=Attr("odd").eq(1))
        self.assertEqual(list(range(1, 20, 2)), [int(i["sk"]) for i in filtered["Items"]])
        self.assertEqual(20, filtered["ScannedCount"])

        scanned = [(i["pk"]["S"], int(i["sk"]["N"])) for page in ddb.get_paginator("scan").paginate(
            TableName=name, PaginationConfig={"PageSize": 25}) for i in page["Items"]]
        self.assertEqual(260, len(scanned))
        self.assertEqual(260, len(set(scanned)))

        # Parallel scan: the segments partition the table.
        seen = set()
        for seg in range(3):
            for page in ddb.get_paginator("scan").paginate(TableName=name, Segment=seg,
                                                           TotalSegments=3):
                for i in page["Items"]:
                    key = (i["pk"]["S"], i["sk"]["N"])
                    self.assertNotIn(key, seen)
                    seen.add(key)
        self.assertEqual(260, len(seen))

        count = ddb.scan(TableName=name, Select="COUNT")
        self.assertEqual(260, count["Count"])


class SecondaryIndexes(unittest.TestCase):
    def wait_for_index(self, ddb, name, index):
        """Waits until `index` of table `name` is ACTIVE (UpdateTable answers
        with it CREATING, as DynamoDB does)."""
        for _ in range(200):
            table = ddb.describe_table(TableName=name)["Table"]
            statuses = {i["IndexName"]: i["IndexStatus"]
                        for i in table.get("GlobalSecondaryIndexes", [])}
            if statuses.get(index) == "ACTIVE":
                return table
            time.sleep(0.05)
        self.fail("index %s of %s never became ACTIVE" % (index, name))

    def test_global_and_local_indexes(self):
        ddb = common.client()
        name = common.table_name("idx")
        key = lambda attr, kind: {"AttributeName": attr, "KeyType": kind}  # noqa: E731
        ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[key("pk", "HASH"), key("sk", "RANGE")],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t}
                                  for a, t in (("pk", "S"), ("sk", "N"), ("kind", "S"),
                                               ("at", "N"))],
            GlobalSecondaryIndexes=[{
                "IndexName": "by-kind", "KeySchema": [key("kind", "HASH"), key("at", "RANGE")],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}}],
            LocalSecondaryIndexes=[{
                "IndexName": "by-at", "KeySchema": [key("pk", "HASH"), key("at", "RANGE")],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        ddb.get_waiter("table_exists").wait(TableName=name,
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        desc = ddb.describe_table(TableName=name)["Table"]
        self.assertEqual({"pk", "sk", "kind", "at"},
                         {d["AttributeName"] for d in desc["AttributeDefinitions"]})
        [gsi] = desc["GlobalSecondaryIndexes"]
        self.assertEqual("ACTIVE", gsi["IndexStatus"])
        self.assertEqual(desc["TableArn"] + "/index/by-kind", gsi["IndexArn"])
        self.assertEqual(["title"], gsi["Projection"]["NonKeyAttributes"])
        [lsi] = desc["LocalSecondaryIndexes"]
        self.assertEqual("by-at", lsi["IndexName"])

        # 40 items; `at` is a permutation of 0..39; every fifth item has no
        # kind, so it is not in by-kind (a sparse index).
        table = common.resource().Table(name)
        with table.batch_writer() as batch:
            for i in range(40):
                item = {"pk": "p%d" % (i % 4), "sk": i, "at": (i * 7) % 40, "title": "t%d" % i,
                        "body": "b" * 20}
                if i % 5:
                    item["kind"] = "even" if i % 2 == 0 else "odd"
                batch.put_item(Item=item)

        pages = list(ddb.get_paginator("query").paginate(
            TableName=name, IndexName="by-kind", KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "even"}}, PaginationConfig={"PageSize": 3}))
        self.assertGreater(len(pages), 1)
        items = [i for page in pages for i in page["Items"]]
        even = [i for i in range(40) if i % 2 == 0 and i % 5]
        self.assertEqual(sorted((i * 7) % 40 for i in even), [int(i["at"]["N"]) for i in items])
        self.assertEqual(set(even), {int(i["sk"]["N"]) for i in items})
        for item in items:
            self.assertEqual({"pk", "sk", "kind", "at", "title"}, set(item))

        # A local index reads consistently; KEYS_ONLY unless asked for all.
        local = table.query(IndexName="by-at", ConsistentRead=True,
                            KeyConditionExpression=Key("pk").eq("p1") & Key("at").lt(20))
        expected = sorted((i * 7) % 40 for i in range(1, 40, 4) if (i * 7) % 40 < 20)
        self.assertEqual(expected, [int(i["at"]) for i in local["Items"]])
        self.assertEqual({"pk", "sk", "at"}, set(local["Items"][0]))
        whole = table.query(IndexName="by-at", Select="ALL_ATTRIBUTES",
                            KeyConditionExpression=Key("pk").eq("p1"))
        self.assertEqual(10, whole["Count"])
        self.assertIn("body", whole["Items"][0])

        scanned = [int(i["sk"]["N"]) for page in ddb.get_paginator("scan").paginate(
            TableName=name, IndexName="by-kind", PaginationConfig={"PageSize": 7})
            for i in page["Items"]]
        self.assertEqual(sorted(i for i in range(40) if i % 5), sorted(scanned))

        with self.assertRaises(ClientError) as cm:
            table.query(IndexName="by-kind", ConsistentRead=True,
                        KeyConditionExpression=Key("kind").eq("odd"))
        self.assertEqual("ValidationException", code(cm.exception))
        self.assertIn("Consistent reads are not supported on global secondary indexes",
                      str(cm.exception))

        # A new index is filled from the items already there.
        ddb.update_table(
            TableName=name, AttributeDefinitions=[{"AttributeName": "title",
                                                   "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": {
                "IndexName": "by-title", "KeySchema": [key("title", "HASH")],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
        desc = self.wait_for_index(ddb, name, "by-title")
        [by_title] = [i for i in desc["GlobalSecondaryIndexes"] if i["IndexName"] == "by-title"]
        self.assertEqual(40, by_title["ItemCount"])
        found = table.query(IndexName="by-title", KeyConditionExpression=Key("title").eq("t7"))
        self.assertEqual([{"pk": "p3", "sk": 7, "title": "t7"}], found["Items"])

        ddb.update_table(TableName=name,
                         GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-title"}}])
        desc = ddb.describe_table(TableName=name)["Table"]
        self.assertEqual(["by-kind"], [i["IndexName"] for i in desc["GlobalSecondaryIndexes"]])
        with self.assertRaises(ClientError) as cm:
            table.query(IndexName="by-title", KeyConditionExpression=Key("title").eq("t7"))
        self.assertEqual("ValidationException", code(cm.exception))
        ddb.delete_table(TableName=name)


class Batches(unittest.TestCase):
    def test_batch_writer_and_batch_get(self):
        ddb = common.client()
        name = common.table_name("batch")
        common.create_table(ddb, name)
        table = common.resource().Table(name)
        with table.batch_writer() as batch:
            for i in range(120):
                batch.put_item(Item={"pk": "b", "sk": i, "v": "v%d" % i})
        with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for i in range(0, 120, 3):
                batch.delete_item(Key={"pk": "b", "sk": i})
        self.assertEqual(80, table.scan(Select="COUNT")["Count"])

        keys = [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(100)]
        got = ddb.batch_get_item(RequestItems={name: {"Keys": keys,
                                                      "ProjectionExpression": "sk, v"}})
        items = got["Responses"][name]
        self.assertEqual(sorted(i for i in range(100) if i % 3), sorted(int(i["sk"]["N"])
                                                                      for i in items))
        self.assertEqual({}, got.get("UnprocessedKeys", {}))

        with self.assertRaises(ClientError) as cm:
            ddb.batch_write_item(RequestItems={name: [
                {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}}]})
        self.assertEqual("ValidationException", code(cm.exception))


class PartiQL(unittest.TestCase):
    """ExecuteStatement as boto3 sends it: typed parameters, pages by NextToken."""

    def test_statements(self):
        ddb, name, table = common.new_table("partiql")

        def run(statement, params=None, **kwargs):
            if params is not None:
                kwargs["Parameters"] = params
            return ddb.execute_statement(Statement=statement, **kwargs)

        for i in range(7):
            run(f'INSERT INTO "{name}" VALUE {{\'pk\': \'p\', \'sk\': ?, \'n\': ?}}',
                [{"N": str(i)}, {"N": str(i * 10)}])
        with self.assertRaises(ClientError) as cm:
            run(f'INSERT INTO "{name}" VALUE {{\'pk\': \'p\', \'sk\': 0}}')
        self.assertEqual("DuplicateItemException", code(cm.exception))

        # Pages of a key query, with a filter and a projection.
        sks, token = [], None
        while True:
            kwargs = {"Limit": 2}
            if token:
                kwargs["NextToken"] = token
            page = run(f'SELECT sk, n FROM "{name}" WHERE pk = ? AND sk >= 1 AND n <> 30',
                       [{"S": "p"}], **kwargs)
            sks += [int(item["sk"]["N"]) for item in page["Items"]]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual([1, 2, 4, 5, 6], sks)

        run(f'UPDATE "{name}" SET n = n + 5 SET tag = \'x\' WHERE pk = \'p\' AND sk = 2')
        self.assertEqual({"pk": "p", "sk": 2, "n": 25, "tag": "x"},
                         table.get_item(Key={"pk": "p", "sk": 2})["Item"])
        got = run(f'UPDATE "{name}" SET s = set_add(s, <<\'a\', \'b\'>>) '
                  f'WHERE pk = \'p\' AND sk = 1 RETURNING ALL NEW *')["Items"]
        self.assertEqual(["a", "b"], sorted(got[0]["s"]["SS"]))
        run(f'UPDATE "{name}" SET s = set_delete(s, <<\'a\'>>) WHERE pk = \'p\' AND sk = 1')
        self.assertEqual({"b"}, table.get_item(Key={"pk": "p", "sk": 1})["Item"]["s"])
        with self.assertRaises(ClientError) as cm:
            run(f'UPDATE "{name}" SET n = 0 WHERE pk = \'p\'')
        self.assertEqual("ValidationException", code(cm.exception))
        run(f'DELETE FROM "{name}" WHERE pk = \'p\' AND sk = 3')
        rows = run(f'SELECT * FROM "{name}" WHERE tag IS NOT MISSING OR sk = 3')["Items"]
        self.assertEqual([{"pk": {"S": "p"}, "sk": {"N": "2"}, "n": {"N": "25"},
                           "tag": {"S": "x"}}], rows)
        with self.assertRaises(ClientError) as cm:
            run(f'SELECT * FROM "{name}" WHERE')
        self.assertEqual("ValidationException", code(cm.exception))
        self.assertIn("Statement wasn't well formed", cm.exception.response["Error"]["Message"])

    def test_batches_and_transactions(self):
        ddb, name, table = common.new_table("partiqlbatch")
        q = f'"{name}"'
        answers = ddb.batch_execute_statement(Statements=[
            {"Statement": f"INSERT INTO {q} VALUE {{'pk': 'a', 'sk': 1, 'v': 1}}"},
            {"Statement": f"INSERT INTO {q} VALUE {{'pk': 'a', 'sk': 2, 'v': 2}}"},
            {"Statement": f"INSERT INTO {q} VALUE {{'pk': 'a', 'sk': 1}}"},
        ])["Responses"]
        self.assertEqual([None, None, "DuplicateItem"],
                         [a.get("Error", {}).get("Code") for a in answers])
        answers = ddb.batch_execute_statement(Statements=[
            {"Statement": f"SELECT v FROM {q} WHERE pk = ? AND sk = ?",
             "Parameters": [{"S": "a"}, {"N": "2"}]},
            {"Statement": f"SELECT * FROM {q} WHERE pk = 'a' AND sk = 9"},
        ])["Responses"]
        self.assertEqual({"v": {"N": "2"}}, answers[0]["Item"])
        self.assertNotIn("Item", answers[1])

        ddb.execute_transaction(TransactStatements=[
            {"Statement": f"UPDATE {q} SET v = v + 10 WHERE pk = 'a' AND sk = 1"},
            {"Statement": f"DELETE FROM {q} WHERE pk = 'a' AND sk = 2"},
        ])
        with self.assertRaises(ClientError) as cm:
            ddb.execute_transaction(TransactStatements=[
                {"Statement": f"INSERT INTO {q} VALUE {{'pk': 'a', 'sk': 5}}"},
                {"Statement": f"INSERT INTO {q} VALUE {{'pk': 'a', 'sk': 1}}"},
            ])
        self.assertEqual("TransactionCanceledException", code(cm.exception))
        self.assertEqual(["None", "DuplicateItem"],
                         [r["Code"] for r in cm.exception.response["CancellationReasons"]])
        got = ddb.execute_transaction(TransactStatements=[
            {"Statement": f"SELECT * FROM {q} WHERE pk = 'a' AND sk = 1"},
            {"Statement": f"SELECT * FROM {q} WHERE pk = 'a' AND sk = 2"},
        ])["Responses"]
        self.assertEqual("11", got[0]["Item"]["v"]["N"])
        self.assertNotIn("Item", got[1])
        self.assertEqual(1, table.scan()["Count"])  # the cancelled INSERT left nothing


class LegacyParameters(unittest.TestCase):
    """The pre-expression parameters, which older code and object mappers send."""

    @classmethod
    def setUpClass(cls):
        cls.ddb, cls.name, cls.table = common.new_table("legacy")
        for i in range(10):
            cls.table.put_item(Item={"pk": "g", "sk": i, "parity": "even" if i % 2 == 0 else "odd",
                                     "n": i * 10})

    def test_expected_and_attribute_updates(self):
        t = self.table
        key = {"pk": "w", "sk": 1}
        t.put_item(Item=dict(key, v="first"), Expected={"pk": {"Exists": False}})
        with self.assertRaises(ClientError) as cm:
            t.put_item(Item=dict(key, v="second"), Expected={"pk": {"Exists": False}})
        self.assertEqual("ConditionalCheckFailedException", code(cm.exception))
        new = t.update_item(Key=key,
                            AttributeUpdates={"v": {"Action": "PUT", "Value": "third"},
                                              "hits": {"Action": "ADD", "Value": 2},
                                              "tags": {"Action": "ADD", "Value": {"a", "b"}}},
                            Expected={"v": {"Value": "first"}},
                            ReturnValues="ALL_NEW")["Attributes"]
        self.assertEqual({"pk": "w", "sk": 1, "v": "third", "hits": 2, "tags": {"a", "b"}}, new)
        new = t.update_item(Key=key,
                            AttributeUpdates={"tags": {"Action": "DELETE", "Value": {"a"}},
                                              "hits": {"Action": "DELETE"}},
                            Expected={"hits": {"ComparisonOperator": "GE",
                                               "AttributeValueList": [2]},
                                      "v": {"ComparisonOperator": "BEGINS_WITH",
                                            "AttributeValueList": ["th"]}},
                            ConditionalOperator="AND", ReturnValues="ALL_NEW")["Attributes"]
        self.assertEqual({"pk": "w", "sk": 1, "v": "third", "tags": {"b"}}, new)
        with self.assertRaises(ClientError) as cm:
            t.delete_item(Key=key, Expected={"v": {"ComparisonOperator": "IN",
                                                   "AttributeValueList": ["x", "y"]}})
        self.assertEqual("ConditionalCheckFailedException", code(cm.exception))
        with self.assertRaises(ClientError) as cm:
            t.delete_item(Key=key, Expected={"v": {"Exists": False}},
                          ConditionExpression="attribute_exists(v)")
        self.assertEqual("ValidationException", code(cm.exception))
        self.assertIn("Can not use both expression and non-expression parameters",
                      cm.exception.response["Error"]["Message"])
        t.delete_item(Key=key, Expected={"v": {"ComparisonOperator": "IN",
                                               "AttributeValueList": ["third", "y"]}})
        self.assertNotIn("Item", t.get_item(Key=key))

    def test_query_scan_and_get_with_legacy_parameters(self):
        # A paginator over KeyConditions + QueryFilter, two items a page.
        pages = self.ddb.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "g"}]},
                           "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "3"}]}},
            QueryFilter={"parity": {"ComparisonOperator": "EQ",
                                    "AttributeValueList": [{"S": "odd"}]}},
            AttributesToGet=["sk", "n"], ScanIndexForward=False, Limit=2)
        items = [i for page in pages for i in page["Items"]]
        self.assertEqual([9, 7, 5, 3], [int(i["sk"]["N"]) for i in items])
        self.assertEqual({"sk", "n"}, set(items[0]))

        got = self.table.scan(ScanFilter={"n": {"ComparisonOperator": "BETWEEN",
                                                "AttributeValueList": [20, 40]},
                                          "sk": {"ComparisonOperator": "EQ",
                                                 "AttributeValueList": [9]}},
                              ConditionalOperator="OR")["Items"]
        self.assertEqual([2, 3, 4, 9], sorted(int(i["sk"]) for i in got))

        got = self.table.get_item(Key={"pk": "g", "sk": 4}, AttributesToGet=["parity"])
        self.assertEqual({"parity": "even"}, got["Item"])
        got = self.ddb.batch_get_item(RequestItems={self.name: {
            "Keys": [{"pk": {"S": "g"}, "sk": {"N": "5"}}], "AttributesToGet": ["n"]}})
        self.assertEqual([{"n": {"N": "50"}}], got["Responses"][self.name])

        with self.assertRaises(ClientError) as cm:
            self.ddb.query(TableName=self.name, KeyConditions={
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "g"}]},
                "sk": {"ComparisonOperator": "NE", "AttributeValueList": [{"N": "1"}]}})
        self.assertEqual("ValidationException", code(cm.exception))
        self.assertEqual("Attempted conditional constraint is not an indexable operation",
                         cm.exception.response["Error"]["Message"])


class Transactions(unittest.TestCase):
    def test_transact_write_items(self):
        ddb = common.client()
        name = common.table_name("txn")
        common.create_table(ddb, name)

        def k(sk):
            return {"pk": {"S": "t"}, "sk": {"N": str(sk)}}

        ddb.put_item(TableName=name, Item={**k(1), "bal": {"N": "100"}})
        ddb.put_item(TableName=name, Item={**k(2), "bal": {"N": "0"}})
        ddb.put_item(TableName=name, Item={**k(9), "x": {"S": "delete me"}})
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": name, "Key": k(1), "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a",
                        "ExpressionAttributeValues": {":a": {"N": "30"}}}},
            {"Update": {"TableName": name, "Key": k(2), "UpdateExpression": "SET bal = bal + :a",
                        "ExpressionAttributeValues": {":a": {"N": "30"}}}},
            {"Put": {"TableName": name, "Item": {**k(3), "log": {"S": "moved 30"}}}},
            {"Delete": {"TableName": name, "Key": k(9)}},
        ])

        def bal(sk):
            return ddb.get_item(TableName=name, Key=k(sk))["Item"]["bal"]["N"]

        self.assertEqual(("70", "30"), (bal(1), bal(2)))
        self.assertNotIn("Item", ddb.get_item(TableName=name, Key=k(9)))

        with self.assertRaises(ClientError) as cm:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": name, "Item": {**k(4), "x": {"S": "never"}}}},
                {"ConditionCheck": {"TableName": name, "Key": k(1),
                                    "ConditionExpression": "bal > :big",
                                    "ExpressionAttributeValues": {":big": {"N": "1000"}}}},
            ])
        self.assertEqual("TransactionCanceledException", code(cm.exception))
        reasons = [r["Code"] for r in cm.exception.response["CancellationReasons"]]
        self.assertEqual(["None", "ConditionalCheckFailed"], reasons)
        self.assertNotIn("Item", ddb.get_item(TableName=name, Key=k(4)))

        # Three actions, the second one's condition false: one reason each,
        # in order.
        with self.assertRaises(ClientError) as cm:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": name, "Item": {**k(5), "x": {"S": "never"}}}},
                {"ConditionCheck": {"TableName": name, "Key": k(1),
                                    "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": {"TableName": name, "Key": k(2), "UpdateExpression": "SET bal = :z",
                            "ExpressionAttributeValues": {":z": {"N": "0"}}}},
            ])
        self.assertEqual("TransactionCanceledException", code(cm.exception))
        reasons = cm.exception.response["CancellationReasons"]
        self.assertEqual(["None", "ConditionalCheckFailed", "None"], [r["Code"] for r in reasons])
        self.assertEqual("The conditional request failed", reasons[1]["Message"])
        self.assertNotIn("Message", reasons[0])
        self.assertNotIn("Item", ddb.get_item(TableName=name, Key=k(5)))
        self.assertEqual("30", bal(2))

        # ReturnValuesOnConditionCheckFailure=ALL_OLD: the failed action's
        # reason carries the item its condition saw.
        with self.assertRaises(ClientError) as cm:
            ddb.transact_write_items(TransactItems=[
                {"ConditionCheck": {"TableName": name, "Key": k(2),
                                    "ConditionExpression": "bal = :zero",
                                    "ExpressionAttributeValues": {":zero": {"N": "0"}},
                                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                {"Put": {"TableName": name, "Item": {**k(6), "x": {"S": "never"}}}},
            ])
        reasons = cm.exception.response["CancellationReasons"]
        self.assertEqual(["ConditionalCheckFailed", "None"], [r["Code"] for r in reasons])
        self.assertEqual("30", reasons[0]["Item"]["bal"]["N"])
        self.assertNotIn("Item", reasons[1])
        self.assertNotIn("Item", ddb.get_item(TableName=name, Key=k(6)))

    def test_transact_get_items(self):
        ddb = common.client()
        name = common.table_name("txget")
        common.create_table(ddb, name)

        def k(sk):
            return {"pk": {"S": "g"}, "sk": {"N": str(sk)}}

        ddb.put_item(TableName=name, Item={**k(1), "a": {"S": "one"}, "b": {"N": "1"}})
        ddb.put_item(TableName=name, Item={**k(2), "a": {"S": "two"}})
        got = ddb.transact_get_items(TransactItems=[
            {"Get": {"TableName": name, "Key": k(2)}},
            {"Get": {"TableName": name, "Key": k(3)}},
            {"Get": {"TableName": name, "Key": k(1), "ProjectionExpression": "#a",
                     "ExpressionAttributeNames": {"#a": "a"}}},
        ])["Responses"]
        self.assertEqual(3, len(got))
        self.assertEqual("two", got[0]["Item"]["a"]["S"])
        self.assertNotIn("Item", got[1])
        self.assertEqual({"a": {"S": "one"}}, got[2]["Item"])
        with self.assertRaises(ClientError) as cm:
            ddb.transact_get_items(TransactItems=[
                {"Get": {"TableName": name, "Key": k(1)}},
                {"Get": {"TableName": name, "Key": k(1)}}])
        self.assertEqual("ValidationException", code(cm.exception))

    def test_client_request_token_makes_retries_apply_once(self):
        ddb = common.client()
        name = common.table_name("txtoken")
        common.create_table(ddb, name)
        key = {"pk": {"S": "c"}, "sk": {"N": "1"}}

        def add(by, token):
            ddb.transact_write_items(ClientRequestToken=token, TransactItems=[
                {"Update": {"TableName": name, "Key": key, "UpdateExpression": "ADD n :by",
                            "ExpressionAttributeValues": {":by": {"N": str(by)}}}}])

        def n():
            return ddb.get_item(TableName=name, Key=key)["Item"]["n"]["N"]

        # What botocore does on a retry: the same request with the same token.
        add(1, "retry-token-1")
        add(1, "retry-token-1")
        self.assertEqual("1", n())
        with self.assertRaises(ClientError) as cm:
            add(2, "retry-token-1")
        self.assertEqual("IdempotentParameterMismatchException", code(cm.exception))
        self.assertEqual("1", n())
        # botocore fills in a fresh token per call when none is given.
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": name, "Key": key, "UpdateExpression": "ADD n :by",
                        "ExpressionAttributeValues": {":by": {"N": "1"}}}}])
        self.assertEqual("2", n())
        with self.assertRaises(ClientError) as cm:
            add(1, "x" * 37)
        self.assertEqual("ValidationException", code(cm.exception))


class Streams(unittest.TestCase):
    def read_all(self, streams, arn, shard, **iterator_args):
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                        **iterator_args)["ShardIterator"]
        records = []
        for _ in range(100):
            page = streams.get_records(ShardIterator=it, Limit=1000)
            records.extend(page["Records"])
            if not page["Records"]:
                break
            it = page["NextShardIterator"]
        return records

    def test_insert_modify_remove_for_each_view_type(self):
        ddb = common.client()
        streams = common.client("dynamodbstreams")
        for view in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            with self.subTest(view=view):
                name = common.table_name("stream-" + view.lower().replace("_", "-"))
                common.create_table(ddb, name, stream_view=view)
                key = {"pk": {"S": "s"}, "sk": {"N": "1"}}
                ddb.put_item(TableName=name, Item={**key, "v": {"S": "one"}})
                ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v",
                                ExpressionAttributeValues={":v": {"S": "two"}})
                ddb.delete_item(TableName=name, Key=key)

                listed = streams.list_streams(TableName=name)["Streams"]
                self.assertEqual(1, len(listed))
                arn = listed[0]["StreamArn"]
                desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
                self.assertEqual(view, desc["StreamViewType"])
                self.assertEqual("ENABLED", desc["StreamStatus"])
                shard = desc["Shards"][0]["ShardId"]
                self.assertTrue(28 <= len(shard) <= 65)

                records = self.read_all(streams, arn, shard, ShardIteratorType="TRIM_HORIZON")
                self.assertEqual(["INSERT", "MODIFY", "REMOVE"],
                                 [r["eventName"] for r in records])
                seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
                self.assertEqual(sorted(seqs, key=int), seqs)
                self.assertTrue(all(21 <= len(s) <= 40 for s in seqs))
                for r in records:
                    d = r["dynamodb"]
                    self.assertEqual(key, d["Keys"])
                    self.assertEqual(view, d["StreamViewType"])
                    self.assertIn("ApproximateCreationDateTime", d)
                    self.assertGreater(d["SizeBytes"], 0)
                    self.assertEqual("aws:dynamodb", r["eventSource"])
                insert, modify, remove = (r["dynamodb"] for r in records)
                new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
                old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
                self.assertEqual(new, "NewImage" in insert)
                self.assertNotIn("OldImage", insert)
                self.assertEqual(new, "NewImage" in modify)
                self.assertEqual(old, "OldImage" in modify)
                self.assertNotIn("NewImage", remove)
                self.assertEqual(old, "OldImage" in remove)
                if new:
                    self.assertEqual({"S": "two"}, modify["NewImage"]["v"])
                if old:
                    self.assertEqual({"S": "one"}, modify["OldImage"]["v"])
                    self.assertEqual({"S": "two"}, remove["OldImage"]["v"])

                after = self.read_all(streams, arn, shard,
                                      ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                      SequenceNumber=seqs[0])
                self.assertEqual(["MODIFY", "REMOVE"], [r["eventName"] for r in after])
                at = self.read_all(streams, arn, shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   SequenceNumber=seqs[1])
                self.assertEqual(["MODIFY", "REMOVE"], [r["eventName"] for r in at])

                latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                    ShardIteratorType="LATEST")["ShardIterator"]
                page = streams.get_records(ShardIterator=latest)
                self.assertEqual([], page["Records"])
                ddb.put_item(TableName=name, Item={**key, "v": {"S": "three"}})
                page = streams.get_records(ShardIterator=page["NextShardIterator"])
                self.assertEqual(["INSERT"], [r["eventName"] for r in page["Records"]])

    def test_reading_before_the_trim_horizon(self):
        ddb = common.client()
        streams = common.client("dynamodbstreams")
        name = common.table_name("trim")
        ddb.create_table(TableName=name,
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "KEYS_ONLY"})
        arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        first = None
        # Default retention keeps 1000 records per table; write past it.
        with common.resource().Table(name).batch_writer() as batch:
            for i in range(1100):
                batch.put_item(Item={"pk": "k%d" % i})
        records = self.read_all(streams, arn, shard, ShardIteratorType="TRIM_HORIZON")
        self.assertLessEqual(len(records), 1000)
        first = int(records[0]["dynamodb"]["SequenceNumber"])
        with self.assertRaises(ClientError) as cm:
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                       ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       SequenceNumber="%021d" % (first - 50))
        self.assertEqual("TrimmedDataAccessException", code(cm.exception))


class TimeToLive(unittest.TestCase):
    def test_expired_items_are_removed_with_the_service_identity(self):
        ddb = common.client()
        streams = common.client("dynamodbstreams")
        name = common.table_name("ttl")
        common.create_table(ddb, name, stream_view="NEW_AND_OLD_IMAGES")
        self.assertEqual({"TimeToLiveStatus": "DISABLED"},
                         ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"])
        spec = {"Enabled": True, "AttributeName": "expires"}
        self.assertEqual(spec, ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification=spec)["TimeToLiveSpecification"])
        self.assertEqual({"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"},
                         ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"])
        with self.assertRaises(ClientError) as err:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
        self.assertEqual("ValidationException", code(err.exception))
        self.assertIn("already enabled", str(err.exception))

        now = int(time.time())
        items = {
            "past": {"N": str(now - 60)},            # expired: deleted
            "future": {"N": str(now + 3600)},        # not yet
            "text": {"S": str(now - 60)},            # not a Number: never
            "ancient": {"N": str(now - 6 * 365 * 86400)},  # over five years: never
            "missing": None,                         # no attribute: never
        }
        for pk, expires in items.items():
            item = {"pk": {"S": pk}, "sk": {"N": "1"}}
            if expires is not None:
                item["expires"] = expires
            ddb.put_item(TableName=name, Item=item)

        def remaining():
            return sorted(i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"])

        deadline = time.time() + 30
        while "past" in remaining() and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(["ancient", "future", "missing", "text"], remaining())

        arn = streams.list_streams(TableName=name)["Streams"][0]["StreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=it)["Records"]
        removes = [r for r in records if r["eventName"] == "REMOVE"]
        self.assertEqual(1, len(removes))
        self.assertEqual({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
                         removes[0]["userIdentity"])
        self.assertEqual({"S": "past"}, removes[0]["dynamodb"]["Keys"]["pk"])
        self.assertTrue(all("userIdentity" not in r for r in records if r is not removes[0]))

        # Disabling must name the attribute in use; afterwards nothing expires.
        with self.assertRaises(ClientError) as err:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": False, "AttributeName": "other"})
        self.assertIn("different AttributeName", str(err.exception))
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": False, "AttributeName": "expires"})
        self.assertEqual({"TimeToLiveStatus": "DISABLED"},
                         ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"])
        ddb.update_item(TableName=name, Key={"pk": {"S": "future"}, "sk": {"N": "1"}},
                        UpdateExpression="SET expires = :e",
                        ExpressionAttributeValues={":e": {"N": str(now - 1)}})
        # Enabled again on another attribute: an item expiring by it goes,
        # which shows that sweeps ran; "future", now past by "expires", stays.
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "gone_at"})
        ddb.put_item(TableName=name, Item={"pk": {"S": "marker"}, "sk": {"N": "1"},
                                           "gone_at": {"N": str(now - 1)}})
        deadline = time.time() + 30
        while "marker" in remaining() and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(["ancient", "future", "missing", "text"], remaining())


class RawProtocol(unittest.TestCase):
    """Bad requests over raw HTTP: the error each gets, and nothing written."""

    @classmethod
    def setUpClass(cls):
        cls.ddb = common.client()
        cls.name = common.table_name("raw")
        common.create_table(cls.ddb, cls.name)

    def count(self):
        return self.ddb.scan(TableName=self.name, Select="COUNT")["Count"]

    def test_malformed_json_and_wrong_types_write_nothing(self):
        put = "DynamoDB_20120810.PutItem"
        cases = [
            ("{not json", "SerializationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}' % self.name,
             "SerializationException"),
            ('{"TableName": 5, "Item": {}}', "SerializationException"),
            ('{"TableName": "%s", "Item": [1, 2]}' % self.name, "SerializationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": 7}, "sk": {"N": "1"}}}' % self.name,
             "SerializationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": "a"}, "sk": {"N": "one"}}}' % self.name,
             "ValidationException"),
            ('{"TableName": "%s", "Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}}' % self.name,
             "ValidationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, '
             '"x": {"S": "a", "N": "1"}}}' % self.name, "ValidationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, '
             '"x": {"SS": []}}}' % self.name, "ValidationException"),
            ('{"TableName": "%s", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, '
             '"b": {"B": "not base64!"}}}' % self.name, "SerializationException"),
            ("", "ValidationException"),  # no members: TableName is missing
        ]
        for body, expected in cases:
            with self.subTest(body=body):
                status, _, data = common.raw_post(put, body)
                self.assertEqual(400, status, data)
                self.assertEqual(expected, common.error_type(data), data)
        self.assertEqual(0, self.count())

        # Batch and transaction: a bad entry anywhere rejects the whole call.
        good = '{"PutRequest": {"Item": {"pk": {"S": "g"}, "sk": {"N": "1"}}}}'
        bad = '{"PutRequest": {"Item": {"pk": {"S": "g"}, "sk": {"N": "x"}}}}'
        status, _, data = common.raw_post("DynamoDB_20120810.BatchWriteItem",
                                          '{"RequestItems": {"%s": [%s, %s]}}' % (
                                              self.name, good, bad))
        self.assertEqual(400, status)
        self.assertEqual("ValidationException", common.error_type(data))
        status, _, data = common.raw_post(
            "DynamoDB_20120810.TransactWriteItems",
            '{"TransactItems": [{"Put": {"TableName": "%s", "Item": {"pk": {"S": "g"}, '
            '"sk": {"N": "1"}}}}, {"Put": {"TableName": "%s", "Item": {"pk": {"S": 1}}}}]}' % (
                self.name, self.name))
        self.assertEqual(400, status)
        self.assertEqual("SerializationException", common.error_type(data))
        self.assertEqual(0, self.count())

    def test_unknown_operation_and_missing_target(self):
        status, _, data = common.raw_post("DynamoDB_20120810.Frobnicate", "{}")
        self.assertEqual(400, status)
        self.assertEqual("UnknownOperationException", common.error_type(data))
        status, _, data = common.raw_post(None, "{}")
        self.assertEqual(400, status)
        self.assertEqual("UnknownOperationException", common.error_type(data))

    def test_response_headers(self):
        status, headers, data = common.raw_post("DynamoDB_20120810.ListTables", "{}")
        self.assertEqual(200, status)
        self.assertEqual("application/x-amz-json-1.0", headers["content-type"])
        self.assertEqual(str(zlib.crc32(data)), headers["x-amz-crc32"])
        self.assertEqual(52, len(headers["x-amzn-requestid"]))
        json.loads(data)

    def test_oversize_body_is_413(self):
        limit = int(os.environ["KEYSTONE_MAX_BODY"])
        body = ('{"TableName": "%s", "Item": {"pk": {"S": "big"}, "sk": {"N": "1"}, '
                '"v": {"S": "%s"}}}' % (self.name, "x" * (limit + 10)))
        status, _, data = common.raw_post("DynamoDB_20120810.PutItem", body)
        self.assertEqual(413, status)
        self.assertEqual("RequestEntityTooLarge", common.error_type(data))
        self.assertEqual(0, self.count())
        # The server still answers.
        self.assertIn(self.name, self.ddb.list_tables()["TableNames"])


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
