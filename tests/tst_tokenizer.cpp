// tokenizer.json reading and encoding against the ids Hugging Face's tokenizers library gives,
// on real tokenizer files (GPT-2, Mistral-7B, Qwen3), plus refusals of what is not supported.
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/model/chat_template.h"
#include "core/model/tokenizer.h"

namespace {

QString fixture(const QString& rel) { return QStringLiteral(SQ_SOURCE_DIR "/tests/data/tokenizers/") + rel; }

QString show(const std::vector<int32_t>& v) {
  QStringList s;
  for (int32_t x : v) s << QString::number(x);
  return s.join(',');
}

}  // namespace

class TstTokenizer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void matchesReferenceIds_data() {
    QTest::addColumn<QString>("family");
    for (const char* f : {"gpt2", "mistral7b", "qwen3"}) QTest::newRow(f) << QString::fromLatin1(f);
  }
  void matchesReferenceIds() {
    QFETCH(QString, family);
    const sq::Tokenizer tok = sq::Tokenizer::load(fixture(family + QStringLiteral("/tokenizer.json")).toStdString());
    // Read with nlohmann: Qt's JSON reader drops a leading byte-order mark from strings.
    std::ifstream f(fixture(family + QStringLiteral("/expected.jsonl")).toStdString());
    QVERIFY(f.good());
    int cases = 0;
    for (std::string line; std::getline(f, line);) {
      if (line.empty()) continue;
      const auto o = nlohmann::json::parse(line);
      const std::string text = o.at("text").get<std::string>();
      const auto ids = tok.encode(text, false);
      const auto with = tok.encode(text, true);
      const auto want = o.at("ids").get<std::vector<int32_t>>();
      const auto want_with = o.at("ids_with_special").get<std::vector<int32_t>>();
      QVERIFY2(ids == want, qPrintable(QStringLiteral("%1\n got  %2\n want %3").arg(QString::fromStdString(text), show(ids), show(want))));
      QVERIFY2(with == want_with, qPrintable(QStringLiteral("with special: %1").arg(QString::fromStdString(text))));
      ++cases;
    }
    QVERIFY(cases >= 40);
  }

  void byteLevelDecodeInvertsEncode_data() {
    QTest::addColumn<QString>("family");
    QTest::newRow("gpt2") << QStringLiteral("gpt2");
    QTest::newRow("qwen3") << QStringLiteral("qwen3");
  }
  void byteLevelDecodeInvertsEncode() {
    QFETCH(QString, family);
    const sq::Tokenizer tok = sq::Tokenizer::load(fixture(family + QStringLiteral("/tokenizer.json")).toStdString());
    QCOMPARE(QString::fromStdString(tok.kind()), QStringLiteral("byte-level BPE"));
    for (const char* s : {"Hello,   world!\n\n\tTabs  and  spaces  ", "naïve café — 東京 🚀🚀 x²", "  leading", "",
                          "don't I'LL we've 12345 3.14159", "<|endoftext|> inside text"}) {
      const std::string text(s);
      QCOMPARE(tok.decode(tok.encode(text)), text);
    }
  }

  void sentencePieceDecode() {
    const sq::Tokenizer tok = sq::Tokenizer::load(fixture(QStringLiteral("mistral7b/tokenizer.json")).toStdString());
    QCOMPARE(QString::fromStdString(tok.kind()), QStringLiteral("SentencePiece-style BPE"));
    for (const char* s : {"Hello world", "naïve café — 東京 🚀 x²", "two  spaces"}) {
      const auto ids = tok.encode(s, true);
      QCOMPARE(ids.front(), 1);
      QCOMPARE(tok.decode(ids, true), std::string(s));
    }
  }

  void refusesUnsupportedComponents_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    const QString model = QStringLiteral(R"("model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})");
    QTest::newRow("wordpiece") << QStringLiteral(R"({"model":{"type":"WordPiece","vocab":{}}})") << QStringLiteral("model type 'WordPiece'");
    QTest::newRow("normalizer") << QStringLiteral(R"({"normalizer":{"type":"BertNormalizer"},%1})").arg(model) << QStringLiteral("normalizer 'BertNormalizer'");
    QTest::newRow("pre") << QStringLiteral(R"({"pre_tokenizer":{"type":"Whitespace"},%1})").arg(model) << QStringLiteral("pre_tokenizer 'Whitespace'");
    QTest::newRow("post") << QStringLiteral(R"({"post_processor":{"type":"BertProcessing"},%1})").arg(model) << QStringLiteral("post_processor 'BertProcessing'");
    QTest::newRow("decoder") << QStringLiteral(R"({"decoder":{"type":"WordPiece"},%1})").arg(model) << QStringLiteral("decoder 'WordPiece'");
    QTest::newRow("bad merge") << QStringLiteral(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a c"]}})") << QStringLiteral("not in the vocabulary");
    QTest::newRow("not json") << QStringLiteral("{\"model\": ") << QStringLiteral("not valid JSON: parse error at line 1");
    // An empty list of merges is a BPE; none at all, or an object, is a damaged file.
    QTest::newRow("merges null") << QStringLiteral(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":null}})")
                                 << QStringLiteral("model.merges must be a list of merges, got null");
    QTest::newRow("merges object") << QStringLiteral(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":{}}})")
                                   << QStringLiteral("model.merges must be a list of merges");
    QTest::newRow("flag null") << QStringLiteral(R"({"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":null},%1})").arg(model)
                               << QStringLiteral("boolean");
  }
  void refusesUnsupportedComponents() {
    QFETCH(QString, json);
    QFETCH(QString, message);
    try {
      sq::Tokenizer::from_json(json.toStdString(), "some/tokenizer.json");
      QFAIL("accepted");
    } catch (const sq::Error& e) {
      const QString what = QString::fromUtf8(e.what());
      QVERIFY2(what.startsWith(QStringLiteral("some/tokenizer.json: ")) && what.contains(message), qPrintable(what));
    }
  }

  void missingFileNamesIt() {
    try {
      sq::Tokenizer::load("/nonexistent/tokenizer.json");
      QFAIL("accepted");
    } catch (const sq::Error& e) {
      QVERIFY(QString::fromUtf8(e.what()).contains(QStringLiteral("/nonexistent/tokenizer.json")));
    }
  }

  // Bytes that are no UTF-8 are refused by sq::Error, not a raw regex failure (found by fuzzing).
  void refusesIllFormedUtf8() {
    const auto tok = sq::Tokenizer::load(SQ_SOURCE_DIR "/tests/data/tokenizers/synthetic/added_strip.json");
    QVERIFY(!tok.encode("ab b").empty());
    try {
      tok.encode("<\x8e>`ab");
      QFAIL("accepted");
    } catch (const sq::Error& e) {
      QVERIFY(QString::fromUtf8(e.what()).contains(QStringLiteral("not valid UTF-8")));
    }
  }

  void addedTokenStripsSpaces() {
    const sq::Tokenizer tok = sq::Tokenizer::load(fixture(QStringLiteral("synthetic/added_strip.json")).toStdString());
    QCOMPARE(tok.encode("a <m> b"), (std::vector<int32_t>{0, 10, 1}));  // both spaces go with <m>
    QCOMPARE(tok.encode("a <k> b"), (std::vector<int32_t>{0, 2, 11, 3}));  // spaces stay in the text
    QVERIFY(tok.is_special(10) && !tok.is_special(11));
    QCOMPARE(tok.decode({0, 10, 1}, true), std::string("ab"));
  }

  void ignoreMergesAndThreeDigitSplit() {
    // Llama-3's shape (tests/data/tokenizers/synthetic): a regex splitter that groups up to three
    // digits, byte level without regex, ignore_merges, a Sequence post-processor adding BOS.
    const sq::Tokenizer tok = sq::Tokenizer::load(fixture(QStringLiteral("synthetic/llama3_like.json")).toStdString());
    // "1234" -> "123" + "4"; "abc" is in the vocabulary whole, so no merges apply to it.
    QCOMPARE(tok.encode("1234abc"), (std::vector<int32_t>{5, 3, 8}));
    QCOMPARE(tok.encode("1234", true), (std::vector<int32_t>{9, 5, 3}));
    QCOMPARE(tok.encode("abab"), (std::vector<int32_t>{12, 12}));
  }
};

QTEST_GUILESS_MAIN(TstTokenizer)
#include "tst_tokenizer.moc"
