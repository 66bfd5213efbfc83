"""SigV4 against a keystoned configured with access keys (and optionally TLS).

  KEYSTONE_ENDPOINT=... KEYSTONE_ACCESS_KEY=... KEYSTONE_SECRET_KEY=... \
      [KEYSTONE_CA_FILE=cert.pem] /usr/bin/python3 boto3_auth_test.py
"""

import os
import ssl
import sys
import unittest

from botocore.exceptions import ClientError, SSLError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def code(err):
    return err.response["Error"]["Code"]


class SigV4(unittest.TestCase):
    def test_right_key_is_accepted_for_both_apis(self):
        ddb = common.client()
        name = common.table_name("auth")
        common.create_table(ddb, name, stream_view="KEYS_ONLY")
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
        self.assertIn("Item", ddb.get_item(TableName=name,
                                           Key={"pk": {"S": "a"}, "sk": {"N": "1"}}))
        streams = common.client("dynamodbstreams")
        self.assertTrue(any(s["TableName"] == name for s in streams.list_streams()["Streams"]))

    def test_wrong_secret_is_invalid_signature_and_writes_nothing(self):
        ddb = common.client()
        name = common.table_name("auth-bad")
        common.create_table(ddb, name)
        bad = common.client(secret_key=common.SECRET_KEY + "x")
        with self.assertRaises(ClientError) as cm:
            bad.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
        self.assertEqual("InvalidSignatureException", code(cm.exception))
        self.assertIn("signature we calculated does not match", str(cm.exception))
        self.assertEqual(0, ddb.scan(TableName=name, Select="COUNT")["Count"])
        with self.assertRaises(ClientError) as cm:
            common.client("dynamodbstreams", secret_key="nope").list_streams()
        self.assertEqual("InvalidSignatureException", code(cm.exception))

    def test_unknown_key_is_unrecognized_client(self):
        with self.assertRaises(ClientError) as cm:
            common.client(access_key="AKIDUNKNOWN").list_tables()
        self.assertEqual("UnrecognizedClientException", code(cm.exception))
        self.assertIn("The security token included in the request is invalid", str(cm.exception))

    @unittest.skipIf(common.CA_FILE, "raw HTTP check runs without TLS")
    def test_unsigned_request_is_missing_token(self):
        status, _, data = common.raw_post("DynamoDB_20120810.ListTables", "{}")
        self.assertEqual(400, status)
        self.assertEqual("MissingAuthenticationTokenException", common.error_type(data))


@unittest.skipUnless(common.CA_FILE, "TLS only")
class Tls(unittest.TestCase):
    def test_certificate_is_verified(self):
        self.assertTrue(common.ENDPOINT.startswith("https://"))
        self.assertIsInstance(common.client().list_tables()["TableNames"], list)
        untrusted = common.session().client("dynamodb", endpoint_url=common.ENDPOINT,
                                            config=common.CONFIG, verify=True)
        with self.assertRaises(SSLError):
            untrusted.list_tables()


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
