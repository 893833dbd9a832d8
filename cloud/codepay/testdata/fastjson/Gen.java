// Gen prints, for each line of an input file (one JSON object per line), what
// CodePay's Java SDK computes from it when it is a response body:
//
//   fastjson: JSONObject.parseObject(line).toJSONString()
//             (fastjson 1.2.74's default parse, then default serialisation)
//   link:     the SDK's string-to-sign for that body: SignHandler.paraFilter
//             followed by SignHandler.createLinkString, copied verbatim below
//             from codepay-us/gateway-api-sdk-java
//             src/main/java/com/codepay/openapi/sign/SignHandler.java lines 82-122,
//             applied to JSONObject.parseObject(line) as OpenApiClient.java
//             lines 143-146 do.
//
// Output: one JSON object per input line, {"in":...,"fastjson":...,"link":...},
// written with the tiny quoting function below (not with fastjson), so that
// the goldens do not depend on the library under test for their framing.
//
// See README.md in this folder for how it was built and run.
import com.alibaba.fastjson.JSONObject;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.io.PrintStream;
import java.util.*;

public class Gen {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            if (line.isEmpty() || line.startsWith("//")) {
                continue;
            }
            JSONObject obj = JSONObject.parseObject(line);
            String fj = obj.toJSONString();
            String link = createLinkString(paraFilter(JSONObject.parseObject(line)));
            out.println("{\"in\":" + quote(line) + ",\"fastjson\":" + quote(fj) + ",\"link\":" + quote(link) + "}");
        }
    }

    // --- verbatim from SignHandler.java (lines 82-122) ---
    private static Map<String, Object> paraFilter(Map<String, Object> sArray) {
        Map<String, Object> result = new HashMap<String, Object>();
        if (sArray == null || sArray.size() <= 0) {
            return result;
        }
        JSONObject sJAray = new JSONObject(sArray);
        for (String key : sJAray.keySet()) {
            String value = sJAray.getString(key);
            if (value == null || value.equals("") || key.equalsIgnoreCase("sign")) {
                continue;
            }
            result.put(key, value);
        }
        return result;
    }

    private static String createLinkString(Map<String, Object> params) {
        JSONObject jparams = new JSONObject(params);
        List<String> keys = new ArrayList<String>(jparams.keySet());
        Collections.sort(keys);

        String prestr = "";
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            String value = jparams.getString(key);

            if (i == keys.size() - 1) {
                prestr = prestr + key + "=" + value;
            } else {
                prestr = prestr + key + "=" + value + "&";
            }
        }
        return prestr;
    }
    // --- end of verbatim copy ---

    // quote renders s as a JSON string: \" \\ and \\uXXXX for every char
    // below 0x20 or above 0x7e, so the golden file is plain ASCII.
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
